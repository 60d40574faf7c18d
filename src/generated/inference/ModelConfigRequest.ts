// Original file: proto/inference/triton_extensions.proto


export interface ModelConfigRequest {
  'name'?: (string);
  'version'?: (string);
}

export interface ModelConfigRequest__Output {
  'name': (string);
  'version': (string);
}
