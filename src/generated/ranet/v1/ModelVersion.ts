// Original file: proto/ranet/v1/classifier.proto

import type { Long } from '@grpc/proto-loader';

export interface ModelVersion {
  'name'?: (string);
  'version'?: (string);
  'dir'?: (string);
  'execution_provider'?: (string);
  'exit_flops'?: (number | string | Long)[];
}

export interface ModelVersion__Output {
  'name': (string);
  'version': (string);
  'dir': (string);
  'execution_provider': (string);
  'exit_flops': (number)[];
}
