// Original file: proto/ranet/v1/classifier.proto

import type { ModelVersion as _ranet_v1_ModelVersion, ModelVersion__Output as _ranet_v1_ModelVersion__Output } from '../../ranet/v1/ModelVersion.js';

export interface ReloadModelResponse {
  'previous'?: (_ranet_v1_ModelVersion | null);
  'current'?: (_ranet_v1_ModelVersion | null);
  'load_ms'?: (number | string);
}

export interface ReloadModelResponse__Output {
  'previous': (_ranet_v1_ModelVersion__Output | null);
  'current': (_ranet_v1_ModelVersion__Output | null);
  'load_ms': (number);
}
