// Original file: proto/ranet/v1/classifier.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { BudgetStatus as _ranet_v1_BudgetStatus, BudgetStatus__Output as _ranet_v1_BudgetStatus__Output } from '../../ranet/v1/BudgetStatus.js';
import type { BudgetTable as _ranet_v1_BudgetTable, BudgetTable__Output as _ranet_v1_BudgetTable__Output } from '../../ranet/v1/BudgetTable.js';
import type { GetBudgetRequest as _ranet_v1_GetBudgetRequest, GetBudgetRequest__Output as _ranet_v1_GetBudgetRequest__Output } from '../../ranet/v1/GetBudgetRequest.js';
import type { GetBudgetTableRequest as _ranet_v1_GetBudgetTableRequest, GetBudgetTableRequest__Output as _ranet_v1_GetBudgetTableRequest__Output } from '../../ranet/v1/GetBudgetTableRequest.js';
import type { SetBudgetRequest as _ranet_v1_SetBudgetRequest, SetBudgetRequest__Output as _ranet_v1_SetBudgetRequest__Output } from '../../ranet/v1/SetBudgetRequest.js';

export interface BudgetAdminClient extends grpc.Client {
  GetBudget(argument: _ranet_v1_GetBudgetRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ranet_v1_BudgetStatus__Output>): grpc.ClientUnaryCall;
  GetBudget(argument: _ranet_v1_GetBudgetRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ranet_v1_BudgetStatus__Output>): grpc.ClientUnaryCall;
  GetBudget(argument: _ranet_v1_GetBudgetRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ranet_v1_BudgetStatus__Output>): grpc.ClientUnaryCall;
  GetBudget(argument: _ranet_v1_GetBudgetRequest, callback: grpc.requestCallback<_ranet_v1_BudgetStatus__Output>): grpc.ClientUnaryCall;
  getBudget(argument: _ranet_v1_GetBudgetRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ranet_v1_BudgetStatus__Output>): grpc.ClientUnaryCall;
  getBudget(argument: _ranet_v1_GetBudgetRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ranet_v1_BudgetStatus__Output>): grpc.ClientUnaryCall;
  getBudget(argument: _ranet_v1_GetBudgetRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ranet_v1_BudgetStatus__Output>): grpc.ClientUnaryCall;
  getBudget(argument: _ranet_v1_GetBudgetRequest, callback: grpc.requestCallback<_ranet_v1_BudgetStatus__Output>): grpc.ClientUnaryCall;
  
  GetBudgetTable(argument: _ranet_v1_GetBudgetTableRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ranet_v1_BudgetTable__Output>): grpc.ClientUnaryCall;
  GetBudgetTable(argument: _ranet_v1_GetBudgetTableRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ranet_v1_BudgetTable__Output>): grpc.ClientUnaryCall;
  GetBudgetTable(argument: _ranet_v1_GetBudgetTableRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ranet_v1_BudgetTable__Output>): grpc.ClientUnaryCall;
  GetBudgetTable(argument: _ranet_v1_GetBudgetTableRequest, callback: grpc.requestCallback<_ranet_v1_BudgetTable__Output>): grpc.ClientUnaryCall;
  getBudgetTable(argument: _ranet_v1_GetBudgetTableRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ranet_v1_BudgetTable__Output>): grpc.ClientUnaryCall;
  getBudgetTable(argument: _ranet_v1_GetBudgetTableRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ranet_v1_BudgetTable__Output>): grpc.ClientUnaryCall;
  getBudgetTable(argument: _ranet_v1_GetBudgetTableRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ranet_v1_BudgetTable__Output>): grpc.ClientUnaryCall;
  getBudgetTable(argument: _ranet_v1_GetBudgetTableRequest, callback: grpc.requestCallback<_ranet_v1_BudgetTable__Output>): grpc.ClientUnaryCall;
  
  SetBudget(argument: _ranet_v1_SetBudgetRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ranet_v1_BudgetStatus__Output>): grpc.ClientUnaryCall;
  SetBudget(argument: _ranet_v1_SetBudgetRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ranet_v1_BudgetStatus__Output>): grpc.ClientUnaryCall;
  SetBudget(argument: _ranet_v1_SetBudgetRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ranet_v1_BudgetStatus__Output>): grpc.ClientUnaryCall;
  SetBudget(argument: _ranet_v1_SetBudgetRequest, callback: grpc.requestCallback<_ranet_v1_BudgetStatus__Output>): grpc.ClientUnaryCall;
  setBudget(argument: _ranet_v1_SetBudgetRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ranet_v1_BudgetStatus__Output>): grpc.ClientUnaryCall;
  setBudget(argument: _ranet_v1_SetBudgetRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ranet_v1_BudgetStatus__Output>): grpc.ClientUnaryCall;
  setBudget(argument: _ranet_v1_SetBudgetRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ranet_v1_BudgetStatus__Output>): grpc.ClientUnaryCall;
  setBudget(argument: _ranet_v1_SetBudgetRequest, callback: grpc.requestCallback<_ranet_v1_BudgetStatus__Output>): grpc.ClientUnaryCall;
  
}

export interface BudgetAdminHandlers extends grpc.UntypedServiceImplementation {
  GetBudget: grpc.handleUnaryCall<_ranet_v1_GetBudgetRequest__Output, _ranet_v1_BudgetStatus>;
  
  GetBudgetTable: grpc.handleUnaryCall<_ranet_v1_GetBudgetTableRequest__Output, _ranet_v1_BudgetTable>;
  
  SetBudget: grpc.handleUnaryCall<_ranet_v1_SetBudgetRequest__Output, _ranet_v1_BudgetStatus>;
  
}

export interface BudgetAdminDefinition extends grpc.ServiceDefinition {
  GetBudget: MethodDefinition<_ranet_v1_GetBudgetRequest, _ranet_v1_BudgetStatus, _ranet_v1_GetBudgetRequest__Output, _ranet_v1_BudgetStatus__Output>
  GetBudgetTable: MethodDefinition<_ranet_v1_GetBudgetTableRequest, _ranet_v1_BudgetTable, _ranet_v1_GetBudgetTableRequest__Output, _ranet_v1_BudgetTable__Output>
  SetBudget: MethodDefinition<_ranet_v1_SetBudgetRequest, _ranet_v1_BudgetStatus, _ranet_v1_SetBudgetRequest__Output, _ranet_v1_BudgetStatus__Output>
}
