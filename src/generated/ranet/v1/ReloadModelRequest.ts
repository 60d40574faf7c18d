// Original file: proto/ranet/v1/classifier.proto


export interface ReloadModelRequest {
  'model_dir'?: (string);
  'model'?: (string);
}

export interface ReloadModelRequest__Output {
  'model_dir': (string);
  'model': (string);
}
