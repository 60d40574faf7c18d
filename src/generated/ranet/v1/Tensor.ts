// Original file: proto/ranet/v1/classifier.proto

import type { Long } from '@grpc/proto-loader';

export interface Tensor {
  'shape'?: (number | string | Long)[];
  'data'?: (Buffer | Uint8Array | string);
  'values'?: (number | string)[];
}

export interface Tensor__Output {
  'shape': (number)[];
  'data': (Buffer);
  'values': (number)[];
}
