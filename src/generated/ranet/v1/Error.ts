// Original file: proto/ranet/v1/classifier.proto


export interface Error {
  'code'?: (number);
  'message'?: (string);
}

export interface Error__Output {
  'code': (number);
  'message': (string);
}
