// Original file: proto/ranet/v1/classifier.proto


export interface ClassProbability {
  'class_index'?: (number);
  'label'?: (string);
  'probability'?: (number | string);
}

export interface ClassProbability__Output {
  'class_index': (number);
  'label': (string);
  'probability': (number);
}
