// Original file: proto/ranet/v1/classifier.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { ClassifyRequest as _ranet_v1_ClassifyRequest, ClassifyRequest__Output as _ranet_v1_ClassifyRequest__Output } from '../../ranet/v1/ClassifyRequest.js';
import type { ClassifyResponse as _ranet_v1_ClassifyResponse, ClassifyResponse__Output as _ranet_v1_ClassifyResponse__Output } from '../../ranet/v1/ClassifyResponse.js';
import type { GetModelMetadataRequest as _ranet_v1_GetModelMetadataRequest, GetModelMetadataRequest__Output as _ranet_v1_GetModelMetadataRequest__Output } from '../../ranet/v1/GetModelMetadataRequest.js';
import type { ModelMetadata as _ranet_v1_ModelMetadata, ModelMetadata__Output as _ranet_v1_ModelMetadata__Output } from '../../ranet/v1/ModelMetadata.js';

export interface ClassifierClient extends grpc.Client {
  Classify(argument: _ranet_v1_ClassifyRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ranet_v1_ClassifyResponse__Output>): grpc.ClientUnaryCall;
  Classify(argument: _ranet_v1_ClassifyRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ranet_v1_ClassifyResponse__Output>): grpc.ClientUnaryCall;
  Classify(argument: _ranet_v1_ClassifyRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ranet_v1_ClassifyResponse__Output>): grpc.ClientUnaryCall;
  Classify(argument: _ranet_v1_ClassifyRequest, callback: grpc.requestCallback<_ranet_v1_ClassifyResponse__Output>): grpc.ClientUnaryCall;
  classify(argument: _ranet_v1_ClassifyRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ranet_v1_ClassifyResponse__Output>): grpc.ClientUnaryCall;
  classify(argument: _ranet_v1_ClassifyRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ranet_v1_ClassifyResponse__Output>): grpc.ClientUnaryCall;
  classify(argument: _ranet_v1_ClassifyRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ranet_v1_ClassifyResponse__Output>): grpc.ClientUnaryCall;
  classify(argument: _ranet_v1_ClassifyRequest, callback: grpc.requestCallback<_ranet_v1_ClassifyResponse__Output>): grpc.ClientUnaryCall;
  
  ClassifyStream(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_ranet_v1_ClassifyRequest, _ranet_v1_ClassifyResponse__Output>;
  ClassifyStream(options?: grpc.CallOptions): grpc.ClientDuplexStream<_ranet_v1_ClassifyRequest, _ranet_v1_ClassifyResponse__Output>;
  classifyStream(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_ranet_v1_ClassifyRequest, _ranet_v1_ClassifyResponse__Output>;
  classifyStream(options?: grpc.CallOptions): grpc.ClientDuplexStream<_ranet_v1_ClassifyRequest, _ranet_v1_ClassifyResponse__Output>;
  
  GetModelMetadata(argument: _ranet_v1_GetModelMetadataRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ranet_v1_ModelMetadata__Output>): grpc.ClientUnaryCall;
  GetModelMetadata(argument: _ranet_v1_GetModelMetadataRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ranet_v1_ModelMetadata__Output>): grpc.ClientUnaryCall;
  GetModelMetadata(argument: _ranet_v1_GetModelMetadataRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ranet_v1_ModelMetadata__Output>): grpc.ClientUnaryCall;
  GetModelMetadata(argument: _ranet_v1_GetModelMetadataRequest, callback: grpc.requestCallback<_ranet_v1_ModelMetadata__Output>): grpc.ClientUnaryCall;
  getModelMetadata(argument: _ranet_v1_GetModelMetadataRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ranet_v1_ModelMetadata__Output>): grpc.ClientUnaryCall;
  getModelMetadata(argument: _ranet_v1_GetModelMetadataRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ranet_v1_ModelMetadata__Output>): grpc.ClientUnaryCall;
  getModelMetadata(argument: _ranet_v1_GetModelMetadataRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ranet_v1_ModelMetadata__Output>): grpc.ClientUnaryCall;
  getModelMetadata(argument: _ranet_v1_GetModelMetadataRequest, callback: grpc.requestCallback<_ranet_v1_ModelMetadata__Output>): grpc.ClientUnaryCall;
  
}

export interface ClassifierHandlers extends grpc.UntypedServiceImplementation {
  Classify: grpc.handleUnaryCall<_ranet_v1_ClassifyRequest__Output, _ranet_v1_ClassifyResponse>;
  
  ClassifyStream: grpc.handleBidiStreamingCall<_ranet_v1_ClassifyRequest__Output, _ranet_v1_ClassifyResponse>;
  
  GetModelMetadata: grpc.handleUnaryCall<_ranet_v1_GetModelMetadataRequest__Output, _ranet_v1_ModelMetadata>;
  
}

export interface ClassifierDefinition extends grpc.ServiceDefinition {
  Classify: MethodDefinition<_ranet_v1_ClassifyRequest, _ranet_v1_ClassifyResponse, _ranet_v1_ClassifyRequest__Output, _ranet_v1_ClassifyResponse__Output>
  ClassifyStream: MethodDefinition<_ranet_v1_ClassifyRequest, _ranet_v1_ClassifyResponse, _ranet_v1_ClassifyRequest__Output, _ranet_v1_ClassifyResponse__Output>
  GetModelMetadata: MethodDefinition<_ranet_v1_GetModelMetadataRequest, _ranet_v1_ModelMetadata, _ranet_v1_GetModelMetadataRequest__Output, _ranet_v1_ModelMetadata__Output>
}
