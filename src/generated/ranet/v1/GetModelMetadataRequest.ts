// Original file: proto/ranet/v1/classifier.proto


export interface GetModelMetadataRequest {
  'model'?: (string);
}

export interface GetModelMetadataRequest__Output {
  'model': (string);
}
