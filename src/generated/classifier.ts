import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { BudgetAdminClient as _ranet_v1_BudgetAdminClient, BudgetAdminDefinition as _ranet_v1_BudgetAdminDefinition } from './ranet/v1/BudgetAdmin.js';
import type { BudgetPoint as _ranet_v1_BudgetPoint, BudgetPoint__Output as _ranet_v1_BudgetPoint__Output } from './ranet/v1/BudgetPoint.js';
import type { BudgetStatus as _ranet_v1_BudgetStatus, BudgetStatus__Output as _ranet_v1_BudgetStatus__Output } from './ranet/v1/BudgetStatus.js';
import type { BudgetTable as _ranet_v1_BudgetTable, BudgetTable__Output as _ranet_v1_BudgetTable__Output } from './ranet/v1/BudgetTable.js';
import type { ClassProbability as _ranet_v1_ClassProbability, ClassProbability__Output as _ranet_v1_ClassProbability__Output } from './ranet/v1/ClassProbability.js';
import type { ClassifierClient as _ranet_v1_ClassifierClient, ClassifierDefinition as _ranet_v1_ClassifierDefinition } from './ranet/v1/Classifier.js';
import type { ClassifyOptions as _ranet_v1_ClassifyOptions, ClassifyOptions__Output as _ranet_v1_ClassifyOptions__Output } from './ranet/v1/ClassifyOptions.js';
import type { ClassifyRequest as _ranet_v1_ClassifyRequest, ClassifyRequest__Output as _ranet_v1_ClassifyRequest__Output } from './ranet/v1/ClassifyRequest.js';
import type { ClassifyResponse as _ranet_v1_ClassifyResponse, ClassifyResponse__Output as _ranet_v1_ClassifyResponse__Output } from './ranet/v1/ClassifyResponse.js';
import type { Error as _ranet_v1_Error, Error__Output as _ranet_v1_Error__Output } from './ranet/v1/Error.js';
import type { ExitInfo as _ranet_v1_ExitInfo, ExitInfo__Output as _ranet_v1_ExitInfo__Output } from './ranet/v1/ExitInfo.js';
import type { ExitPrediction as _ranet_v1_ExitPrediction, ExitPrediction__Output as _ranet_v1_ExitPrediction__Output } from './ranet/v1/ExitPrediction.js';
import type { GetBudgetRequest as _ranet_v1_GetBudgetRequest, GetBudgetRequest__Output as _ranet_v1_GetBudgetRequest__Output } from './ranet/v1/GetBudgetRequest.js';
import type { GetBudgetTableRequest as _ranet_v1_GetBudgetTableRequest, GetBudgetTableRequest__Output as _ranet_v1_GetBudgetTableRequest__Output } from './ranet/v1/GetBudgetTableRequest.js';
import type { GetModelMetadataRequest as _ranet_v1_GetModelMetadataRequest, GetModelMetadataRequest__Output as _ranet_v1_GetModelMetadataRequest__Output } from './ranet/v1/GetModelMetadataRequest.js';
import type { GetModelRequest as _ranet_v1_GetModelRequest, GetModelRequest__Output as _ranet_v1_GetModelRequest__Output } from './ranet/v1/GetModelRequest.js';
import type { InputSpec as _ranet_v1_InputSpec, InputSpec__Output as _ranet_v1_InputSpec__Output } from './ranet/v1/InputSpec.js';
import type { ModelAdminClient as _ranet_v1_ModelAdminClient, ModelAdminDefinition as _ranet_v1_ModelAdminDefinition } from './ranet/v1/ModelAdmin.js';
import type { ModelMetadata as _ranet_v1_ModelMetadata, ModelMetadata__Output as _ranet_v1_ModelMetadata__Output } from './ranet/v1/ModelMetadata.js';
import type { ModelVersion as _ranet_v1_ModelVersion, ModelVersion__Output as _ranet_v1_ModelVersion__Output } from './ranet/v1/ModelVersion.js';
import type { OraclePoint as _ranet_v1_OraclePoint, OraclePoint__Output as _ranet_v1_OraclePoint__Output } from './ranet/v1/OraclePoint.js';
import type { ReloadModelRequest as _ranet_v1_ReloadModelRequest, ReloadModelRequest__Output as _ranet_v1_ReloadModelRequest__Output } from './ranet/v1/ReloadModelRequest.js';
import type { ReloadModelResponse as _ranet_v1_ReloadModelResponse, ReloadModelResponse__Output as _ranet_v1_ReloadModelResponse__Output } from './ranet/v1/ReloadModelResponse.js';
import type { SetBudgetRequest as _ranet_v1_SetBudgetRequest, SetBudgetRequest__Output as _ranet_v1_SetBudgetRequest__Output } from './ranet/v1/SetBudgetRequest.js';
import type { Tensor as _ranet_v1_Tensor, Tensor__Output as _ranet_v1_Tensor__Output } from './ranet/v1/Tensor.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  ranet: {
    v1: {
      BudgetAdmin: SubtypeConstructor<typeof grpc.Client, _ranet_v1_BudgetAdminClient> & { service: _ranet_v1_BudgetAdminDefinition }
      BudgetPoint: MessageTypeDefinition<_ranet_v1_BudgetPoint, _ranet_v1_BudgetPoint__Output>
      BudgetStatus: MessageTypeDefinition<_ranet_v1_BudgetStatus, _ranet_v1_BudgetStatus__Output>
      BudgetTable: MessageTypeDefinition<_ranet_v1_BudgetTable, _ranet_v1_BudgetTable__Output>
      ClassProbability: MessageTypeDefinition<_ranet_v1_ClassProbability, _ranet_v1_ClassProbability__Output>
      Classifier: SubtypeConstructor<typeof grpc.Client, _ranet_v1_ClassifierClient> & { service: _ranet_v1_ClassifierDefinition }
      ClassifyOptions: MessageTypeDefinition<_ranet_v1_ClassifyOptions, _ranet_v1_ClassifyOptions__Output>
      ClassifyRequest: MessageTypeDefinition<_ranet_v1_ClassifyRequest, _ranet_v1_ClassifyRequest__Output>
      ClassifyResponse: MessageTypeDefinition<_ranet_v1_ClassifyResponse, _ranet_v1_ClassifyResponse__Output>
      Error: MessageTypeDefinition<_ranet_v1_Error, _ranet_v1_Error__Output>
      ExitInfo: MessageTypeDefinition<_ranet_v1_ExitInfo, _ranet_v1_ExitInfo__Output>
      ExitPrediction: MessageTypeDefinition<_ranet_v1_ExitPrediction, _ranet_v1_ExitPrediction__Output>
      GetBudgetRequest: MessageTypeDefinition<_ranet_v1_GetBudgetRequest, _ranet_v1_GetBudgetRequest__Output>
      GetBudgetTableRequest: MessageTypeDefinition<_ranet_v1_GetBudgetTableRequest, _ranet_v1_GetBudgetTableRequest__Output>
      GetModelMetadataRequest: MessageTypeDefinition<_ranet_v1_GetModelMetadataRequest, _ranet_v1_GetModelMetadataRequest__Output>
      GetModelRequest: MessageTypeDefinition<_ranet_v1_GetModelRequest, _ranet_v1_GetModelRequest__Output>
      InputSpec: MessageTypeDefinition<_ranet_v1_InputSpec, _ranet_v1_InputSpec__Output>
      ModelAdmin: SubtypeConstructor<typeof grpc.Client, _ranet_v1_ModelAdminClient> & { service: _ranet_v1_ModelAdminDefinition }
      ModelMetadata: MessageTypeDefinition<_ranet_v1_ModelMetadata, _ranet_v1_ModelMetadata__Output>
      ModelVersion: MessageTypeDefinition<_ranet_v1_ModelVersion, _ranet_v1_ModelVersion__Output>
      OraclePoint: MessageTypeDefinition<_ranet_v1_OraclePoint, _ranet_v1_OraclePoint__Output>
      ReloadModelRequest: MessageTypeDefinition<_ranet_v1_ReloadModelRequest, _ranet_v1_ReloadModelRequest__Output>
      ReloadModelResponse: MessageTypeDefinition<_ranet_v1_ReloadModelResponse, _ranet_v1_ReloadModelResponse__Output>
      SetBudgetRequest: MessageTypeDefinition<_ranet_v1_SetBudgetRequest, _ranet_v1_SetBudgetRequest__Output>
      Tensor: MessageTypeDefinition<_ranet_v1_Tensor, _ranet_v1_Tensor__Output>
    }
  }
}

