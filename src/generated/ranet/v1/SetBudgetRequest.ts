// Original file: proto/ranet/v1/classifier.proto

import type { Long } from '@grpc/proto-loader';

export interface SetBudgetRequest {
  'target_flops'?: (number | string | Long);
  'target_fraction'?: (number | string);
  'model'?: (string);
  'tenant'?: (string);
  'target'?: "target_flops"|"target_fraction";
}

export interface SetBudgetRequest__Output {
  'target_flops'?: (number);
  'target_fraction'?: (number);
  'model': (string);
  'tenant': (string);
  'target'?: "target_flops"|"target_fraction";
}
