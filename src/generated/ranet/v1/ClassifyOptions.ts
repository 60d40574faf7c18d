// Original file: proto/ranet/v1/classifier.proto

import type { Long } from '@grpc/proto-loader';

export interface ClassifyOptions {
  'flops_budget'?: (number | string | Long);
  'exit'?: (number);
  'return_all_exits'?: (boolean);
  'top_k'?: (number);
  'anytime'?: (boolean);
  'priority'?: (number);
}

export interface ClassifyOptions__Output {
  'flops_budget': (number);
  'exit': (number);
  'return_all_exits': (boolean);
  'top_k': (number);
  'anytime': (boolean);
  'priority': (number);
}
