// Original file: proto/ranet/v1/classifier.proto


export interface GetModelRequest {
  'model'?: (string);
}

export interface GetModelRequest__Output {
  'model': (string);
}
