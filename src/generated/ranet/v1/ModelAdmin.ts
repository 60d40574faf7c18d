// Original file: proto/ranet/v1/classifier.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { GetModelRequest as _ranet_v1_GetModelRequest, GetModelRequest__Output as _ranet_v1_GetModelRequest__Output } from '../../ranet/v1/GetModelRequest.js';
import type { ModelVersion as _ranet_v1_ModelVersion, ModelVersion__Output as _ranet_v1_ModelVersion__Output } from '../../ranet/v1/ModelVersion.js';
import type { ReloadModelRequest as _ranet_v1_ReloadModelRequest, ReloadModelRequest__Output as _ranet_v1_ReloadModelRequest__Output } from '../../ranet/v1/ReloadModelRequest.js';
import type { ReloadModelResponse as _ranet_v1_ReloadModelResponse, ReloadModelResponse__Output as _ranet_v1_ReloadModelResponse__Output } from '../../ranet/v1/ReloadModelResponse.js';

export interface ModelAdminClient extends grpc.Client {
  GetModel(argument: _ranet_v1_GetModelRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ranet_v1_ModelVersion__Output>): grpc.ClientUnaryCall;
  GetModel(argument: _ranet_v1_GetModelRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ranet_v1_ModelVersion__Output>): grpc.ClientUnaryCall;
  GetModel(argument: _ranet_v1_GetModelRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ranet_v1_ModelVersion__Output>): grpc.ClientUnaryCall;
  GetModel(argument: _ranet_v1_GetModelRequest, callback: grpc.requestCallback<_ranet_v1_ModelVersion__Output>): grpc.ClientUnaryCall;
  getModel(argument: _ranet_v1_GetModelRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ranet_v1_ModelVersion__Output>): grpc.ClientUnaryCall;
  getModel(argument: _ranet_v1_GetModelRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ranet_v1_ModelVersion__Output>): grpc.ClientUnaryCall;
  getModel(argument: _ranet_v1_GetModelRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ranet_v1_ModelVersion__Output>): grpc.ClientUnaryCall;
  getModel(argument: _ranet_v1_GetModelRequest, callback: grpc.requestCallback<_ranet_v1_ModelVersion__Output>): grpc.ClientUnaryCall;
  
  ReloadModel(argument: _ranet_v1_ReloadModelRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ranet_v1_ReloadModelResponse__Output>): grpc.ClientUnaryCall;
  ReloadModel(argument: _ranet_v1_ReloadModelRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ranet_v1_ReloadModelResponse__Output>): grpc.ClientUnaryCall;
  ReloadModel(argument: _ranet_v1_ReloadModelRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ranet_v1_ReloadModelResponse__Output>): grpc.ClientUnaryCall;
  ReloadModel(argument: _ranet_v1_ReloadModelRequest, callback: grpc.requestCallback<_ranet_v1_ReloadModelResponse__Output>): grpc.ClientUnaryCall;
  reloadModel(argument: _ranet_v1_ReloadModelRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ranet_v1_ReloadModelResponse__Output>): grpc.ClientUnaryCall;
  reloadModel(argument: _ranet_v1_ReloadModelRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ranet_v1_ReloadModelResponse__Output>): grpc.ClientUnaryCall;
  reloadModel(argument: _ranet_v1_ReloadModelRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ranet_v1_ReloadModelResponse__Output>): grpc.ClientUnaryCall;
  reloadModel(argument: _ranet_v1_ReloadModelRequest, callback: grpc.requestCallback<_ranet_v1_ReloadModelResponse__Output>): grpc.ClientUnaryCall;
  
}

export interface ModelAdminHandlers extends grpc.UntypedServiceImplementation {
  GetModel: grpc.handleUnaryCall<_ranet_v1_GetModelRequest__Output, _ranet_v1_ModelVersion>;
  
  ReloadModel: grpc.handleUnaryCall<_ranet_v1_ReloadModelRequest__Output, _ranet_v1_ReloadModelResponse>;
  
}

export interface ModelAdminDefinition extends grpc.ServiceDefinition {
  GetModel: MethodDefinition<_ranet_v1_GetModelRequest, _ranet_v1_ModelVersion, _ranet_v1_GetModelRequest__Output, _ranet_v1_ModelVersion__Output>
  ReloadModel: MethodDefinition<_ranet_v1_ReloadModelRequest, _ranet_v1_ReloadModelResponse, _ranet_v1_ReloadModelRequest__Output, _ranet_v1_ReloadModelResponse__Output>
}
