// Original file: proto/ranet/v1/classifier.proto


export interface GetModelRequest {
}

export interface GetModelRequest__Output {
}
