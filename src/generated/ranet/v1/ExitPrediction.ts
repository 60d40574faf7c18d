// Original file: proto/ranet/v1/classifier.proto

import type { Long } from '@grpc/proto-loader';

export interface ExitPrediction {
  'exit'?: (number);
  'class_index'?: (number);
  'label'?: (string);
  'confidence'?: (number | string);
  'flops'?: (number | string | Long);
  'own_class_index'?: (number);
  'own_label'?: (string);
  'own_confidence'?: (number | string);
}

export interface ExitPrediction__Output {
  'exit': (number);
  'class_index': (number);
  'label': (string);
  'confidence': (number);
  'flops': (number);
  'own_class_index': (number);
  'own_label': (string);
  'own_confidence': (number);
}
