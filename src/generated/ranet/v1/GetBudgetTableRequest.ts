// Original file: proto/ranet/v1/classifier.proto


export interface GetBudgetTableRequest {
  'model'?: (string);
}

export interface GetBudgetTableRequest__Output {
  'model': (string);
}
