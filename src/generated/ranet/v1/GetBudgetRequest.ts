// Original file: proto/ranet/v1/classifier.proto


export interface GetBudgetRequest {
}

export interface GetBudgetRequest__Output {
}
