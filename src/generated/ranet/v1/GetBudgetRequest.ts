// Original file: proto/ranet/v1/classifier.proto


export interface GetBudgetRequest {
  'model'?: (string);
  'tenant'?: (string);
}

export interface GetBudgetRequest__Output {
  'model': (string);
  'tenant': (string);
}
