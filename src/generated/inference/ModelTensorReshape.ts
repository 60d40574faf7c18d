// Original file: proto/inference/model_config.proto

import type { Long } from '@grpc/proto-loader';

export interface ModelTensorReshape {
  'shape'?: (number | string | Long)[];
}

export interface ModelTensorReshape__Output {
  'shape': (number)[];
}
