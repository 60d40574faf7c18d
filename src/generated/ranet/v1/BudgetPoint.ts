// Original file: proto/ranet/v1/classifier.proto


export interface BudgetPoint {
  'p'?: (number | string);
  'expected_flops'?: (number | string);
  'accuracy'?: (number | string);
  'thresholds'?: (number | string)[];
}

export interface BudgetPoint__Output {
  'p': (number);
  'expected_flops': (number);
  'accuracy': (number);
  'thresholds': (number)[];
}
