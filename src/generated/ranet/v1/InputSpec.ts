// Original file: proto/ranet/v1/classifier.proto

import type { Long } from '@grpc/proto-loader';

export interface InputSpec {
  'name'?: (string);
  'dtype'?: (string);
  'shape'?: (number | string | Long)[];
  'mean'?: (number | string)[];
  'std'?: (number | string)[];
  'pixel_scale'?: (number | string);
  'color_space'?: (string);
}

export interface InputSpec__Output {
  'name': (string);
  'dtype': (string);
  'shape': (number)[];
  'mean': (number)[];
  'std': (number)[];
  'pixel_scale': (number);
  'color_space': (string);
}
