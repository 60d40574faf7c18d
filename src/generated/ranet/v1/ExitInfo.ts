// Original file: proto/ranet/v1/classifier.proto

import type { Long } from '@grpc/proto-loader';

export interface ExitInfo {
  'exit'?: (number);
  'flops'?: (number | string | Long);
  'val_accuracy'?: (number | string);
  'test_accuracy'?: (number | string);
  'threshold'?: (number | string);
  'own_val_accuracy'?: (number | string);
  'own_test_accuracy'?: (number | string);
}

export interface ExitInfo__Output {
  'exit': (number);
  'flops': (number);
  'val_accuracy': (number);
  'test_accuracy': (number);
  'threshold': (number);
  'own_val_accuracy': (number);
  'own_test_accuracy': (number);
}
