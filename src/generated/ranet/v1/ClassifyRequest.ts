// Original file: proto/ranet/v1/classifier.proto

import type { Tensor as _ranet_v1_Tensor, Tensor__Output as _ranet_v1_Tensor__Output } from '../../ranet/v1/Tensor.js';
import type { ClassifyOptions as _ranet_v1_ClassifyOptions, ClassifyOptions__Output as _ranet_v1_ClassifyOptions__Output } from '../../ranet/v1/ClassifyOptions.js';

export interface ClassifyRequest {
  'request_id'?: (string);
  'model'?: (string);
  'image'?: (Buffer | Uint8Array | string);
  'tensor'?: (_ranet_v1_Tensor | null);
  'options'?: (_ranet_v1_ClassifyOptions | null);
  'model_version'?: (string);
  'input'?: "image"|"tensor";
}

export interface ClassifyRequest__Output {
  'request_id': (string);
  'model': (string);
  'image'?: (Buffer);
  'tensor'?: (_ranet_v1_Tensor__Output | null);
  'options': (_ranet_v1_ClassifyOptions__Output | null);
  'model_version': (string);
  'input'?: "image"|"tensor";
}
