// Original file: proto/ranet/v1/classifier.proto


export interface ReloadModelRequest {
  'model_dir'?: (string);
}

export interface ReloadModelRequest__Output {
  'model_dir': (string);
}
