// Original file: proto/ranet/v1/classifier.proto


export interface GetModelMetadataRequest {
  'model'?: (string);
  'model_version'?: (string);
}

export interface GetModelMetadataRequest__Output {
  'model': (string);
  'model_version': (string);
}
