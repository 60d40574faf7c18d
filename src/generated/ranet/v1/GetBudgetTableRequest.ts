// Original file: proto/ranet/v1/classifier.proto


export interface GetBudgetTableRequest {
  'model'?: (string);
  'tenant'?: (string);
}

export interface GetBudgetTableRequest__Output {
  'model': (string);
  'tenant': (string);
}
