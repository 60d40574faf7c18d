// Original file: proto/ranet/v1/classifier.proto


export interface GetBudgetTableRequest {
}

export interface GetBudgetTableRequest__Output {
}
