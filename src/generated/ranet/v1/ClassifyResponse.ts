// Original file: proto/ranet/v1/classifier.proto

import type { ClassProbability as _ranet_v1_ClassProbability, ClassProbability__Output as _ranet_v1_ClassProbability__Output } from '../../ranet/v1/ClassProbability.js';
import type { ExitPrediction as _ranet_v1_ExitPrediction, ExitPrediction__Output as _ranet_v1_ExitPrediction__Output } from '../../ranet/v1/ExitPrediction.js';
import type { Error as _ranet_v1_Error, Error__Output as _ranet_v1_Error__Output } from '../../ranet/v1/Error.js';
import type { Long } from '@grpc/proto-loader';

export interface ClassifyResponse {
  'request_id'?: (string);
  'class_index'?: (number);
  'label'?: (string);
  'confidence'?: (number | string);
  'exit'?: (number);
  'flops'?: (number | string | Long);
  'top_k'?: (_ranet_v1_ClassProbability)[];
  'model_name'?: (string);
  'model_version'?: (string);
  'exits'?: (_ranet_v1_ExitPrediction)[];
  'exit_reason'?: (string);
  'error'?: (_ranet_v1_Error | null);
}

export interface ClassifyResponse__Output {
  'request_id': (string);
  'class_index': (number);
  'label': (string);
  'confidence': (number);
  'exit': (number);
  'flops': (number);
  'top_k': (_ranet_v1_ClassProbability__Output)[];
  'model_name': (string);
  'model_version': (string);
  'exits': (_ranet_v1_ExitPrediction__Output)[];
  'exit_reason': (string);
  'error': (_ranet_v1_Error__Output | null);
}
