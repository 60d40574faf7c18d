// Original file: proto/ranet/v1/classifier.proto


export interface OraclePoint {
  'flops'?: (number | string);
  'accuracy'?: (number | string);
}

export interface OraclePoint__Output {
  'flops': (number);
  'accuracy': (number);
}
