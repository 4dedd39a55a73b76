import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from llama.common.v1 import jobs_pb2 as _jobs_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DatasetFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DATASET_FORMAT_UNSPECIFIED: _ClassVar[DatasetFormat]
    DATASET_FORMAT_INSTRUCT: _ClassVar[DatasetFormat]
    DATASET_FORMAT_DIALOG: _ClassVar[DatasetFormat]

class OptimizerType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OPTIMIZER_TYPE_UNSPECIFIED: _ClassVar[OptimizerType]
    OPTIMIZER_TYPE_ADAM: _ClassVar[OptimizerType]
    OPTIMIZER_TYPE_ADAMW: _ClassVar[OptimizerType]
    OPTIMIZER_TYPE_SGD: _ClassVar[OptimizerType]

class DPOLossType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DPO_LOSS_TYPE_UNSPECIFIED: _ClassVar[DPOLossType]
    DPO_LOSS_TYPE_SIGMOID: _ClassVar[DPOLossType]
    DPO_LOSS_TYPE_HINGE: _ClassVar[DPOLossType]
    DPO_LOSS_TYPE_IPO: _ClassVar[DPOLossType]
    DPO_LOSS_TYPE_KTO_PAIR: _ClassVar[DPOLossType]

class TrainingJobType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRAINING_JOB_TYPE_UNSPECIFIED: _ClassVar[TrainingJobType]
    TRAINING_JOB_TYPE_SUPERVISED_FINE_TUNE: _ClassVar[TrainingJobType]
    TRAINING_JOB_TYPE_PREFERENCE_OPTIMIZE: _ClassVar[TrainingJobType]
DATASET_FORMAT_UNSPECIFIED: DatasetFormat
DATASET_FORMAT_INSTRUCT: DatasetFormat
DATASET_FORMAT_DIALOG: DatasetFormat
OPTIMIZER_TYPE_UNSPECIFIED: OptimizerType
OPTIMIZER_TYPE_ADAM: OptimizerType
OPTIMIZER_TYPE_ADAMW: OptimizerType
OPTIMIZER_TYPE_SGD: OptimizerType
DPO_LOSS_TYPE_UNSPECIFIED: DPOLossType
DPO_LOSS_TYPE_SIGMOID: DPOLossType
DPO_LOSS_TYPE_HINGE: DPOLossType
DPO_LOSS_TYPE_IPO: DPOLossType
DPO_LOSS_TYPE_KTO_PAIR: DPOLossType
TRAINING_JOB_TYPE_UNSPECIFIED: TrainingJobType
TRAINING_JOB_TYPE_SUPERVISED_FINE_TUNE: TrainingJobType
TRAINING_JOB_TYPE_PREFERENCE_OPTIMIZE: TrainingJobType

class DataConfig(_message.Message):
    __slots__ = ("dataset_id", "batch_size", "shuffle", "data_format", "validation_dataset_id", "packed", "train_on_input")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    SHUFFLE_FIELD_NUMBER: _ClassVar[int]
    DATA_FORMAT_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    PACKED_FIELD_NUMBER: _ClassVar[int]
    TRAIN_ON_INPUT_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    batch_size: int
    shuffle: bool
    data_format: DatasetFormat
    validation_dataset_id: str
    packed: bool
    train_on_input: bool
    def __init__(self, dataset_id: _Optional[str] = ..., batch_size: _Optional[int] = ..., shuffle: _Optional[bool] = ..., data_format: _Optional[_Union[DatasetFormat, str]] = ..., validation_dataset_id: _Optional[str] = ..., packed: _Optional[bool] = ..., train_on_input: _Optional[bool] = ...) -> None: ...

class OptimizerConfig(_message.Message):
    __slots__ = ("optimizer_type", "lr", "weight_decay", "num_warmup_steps")
    OPTIMIZER_TYPE_FIELD_NUMBER: _ClassVar[int]
    LR_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_DECAY_FIELD_NUMBER: _ClassVar[int]
    NUM_WARMUP_STEPS_FIELD_NUMBER: _ClassVar[int]
    optimizer_type: OptimizerType
    lr: float
    weight_decay: float
    num_warmup_steps: int
    def __init__(self, optimizer_type: _Optional[_Union[OptimizerType, str]] = ..., lr: _Optional[float] = ..., weight_decay: _Optional[float] = ..., num_warmup_steps: _Optional[int] = ...) -> None: ...

class EfficiencyConfig(_message.Message):
    __slots__ = ("enable_activation_checkpointing", "enable_activation_offloading", "memory_efficient_fsdp_wrap", "fsdp_cpu_offload")
    ENABLE_ACTIVATION_CHECKPOINTING_FIELD_NUMBER: _ClassVar[int]
    ENABLE_ACTIVATION_OFFLOADING_FIELD_NUMBER: _ClassVar[int]
    MEMORY_EFFICIENT_FSDP_WRAP_FIELD_NUMBER: _ClassVar[int]
    FSDP_CPU_OFFLOAD_FIELD_NUMBER: _ClassVar[int]
    enable_activation_checkpointing: bool
    enable_activation_offloading: bool
    memory_efficient_fsdp_wrap: bool
    fsdp_cpu_offload: bool
    def __init__(self, enable_activation_checkpointing: _Optional[bool] = ..., enable_activation_offloading: _Optional[bool] = ..., memory_efficient_fsdp_wrap: _Optional[bool] = ..., fsdp_cpu_offload: _Optional[bool] = ...) -> None: ...

class TrainingConfig(_message.Message):
    __slots__ = ("n_epochs", "max_steps_per_epoch", "gradient_accumulation_steps", "max_validation_steps", "data_config", "optimizer_config", "efficiency_config", "dtype")
    N_EPOCHS_FIELD_NUMBER: _ClassVar[int]
    MAX_STEPS_PER_EPOCH_FIELD_NUMBER: _ClassVar[int]
    GRADIENT_ACCUMULATION_STEPS_FIELD_NUMBER: _ClassVar[int]
    MAX_VALIDATION_STEPS_FIELD_NUMBER: _ClassVar[int]
    DATA_CONFIG_FIELD_NUMBER: _ClassVar[int]
    OPTIMIZER_CONFIG_FIELD_NUMBER: _ClassVar[int]
    EFFICIENCY_CONFIG_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    n_epochs: int
    max_steps_per_epoch: int
    gradient_accumulation_steps: int
    max_validation_steps: int
    data_config: DataConfig
    optimizer_config: OptimizerConfig
    efficiency_config: EfficiencyConfig
    dtype: str
    def __init__(self, n_epochs: _Optional[int] = ..., max_steps_per_epoch: _Optional[int] = ..., gradient_accumulation_steps: _Optional[int] = ..., max_validation_steps: _Optional[int] = ..., data_config: _Optional[_Union[DataConfig, _Mapping]] = ..., optimizer_config: _Optional[_Union[OptimizerConfig, _Mapping]] = ..., efficiency_config: _Optional[_Union[EfficiencyConfig, _Mapping]] = ..., dtype: _Optional[str] = ...) -> None: ...

class LoraFinetuningConfig(_message.Message):
    __slots__ = ("lora_attn_modules", "apply_lora_to_mlp", "apply_lora_to_output", "rank", "alpha", "use_dora", "quantize_base")
    LORA_ATTN_MODULES_FIELD_NUMBER: _ClassVar[int]
    APPLY_LORA_TO_MLP_FIELD_NUMBER: _ClassVar[int]
    APPLY_LORA_TO_OUTPUT_FIELD_NUMBER: _ClassVar[int]
    RANK_FIELD_NUMBER: _ClassVar[int]
    ALPHA_FIELD_NUMBER: _ClassVar[int]
    USE_DORA_FIELD_NUMBER: _ClassVar[int]
    QUANTIZE_BASE_FIELD_NUMBER: _ClassVar[int]
    lora_attn_modules: _containers.RepeatedScalarFieldContainer[str]
    apply_lora_to_mlp: bool
    apply_lora_to_output: bool
    rank: int
    alpha: int
    use_dora: bool
    quantize_base: bool
    def __init__(self, lora_attn_modules: _Optional[_Iterable[str]] = ..., apply_lora_to_mlp: _Optional[bool] = ..., apply_lora_to_output: _Optional[bool] = ..., rank: _Optional[int] = ..., alpha: _Optional[int] = ..., use_dora: _Optional[bool] = ..., quantize_base: _Optional[bool] = ...) -> None: ...

class QATFinetuningConfig(_message.Message):
    __slots__ = ("quantizer_name", "group_size")
    QUANTIZER_NAME_FIELD_NUMBER: _ClassVar[int]
    GROUP_SIZE_FIELD_NUMBER: _ClassVar[int]
    quantizer_name: str
    group_size: int
    def __init__(self, quantizer_name: _Optional[str] = ..., group_size: _Optional[int] = ...) -> None: ...

class AlgorithmConfig(_message.Message):
    __slots__ = ("lora", "qat")
    LORA_FIELD_NUMBER: _ClassVar[int]
    QAT_FIELD_NUMBER: _ClassVar[int]
    lora: LoraFinetuningConfig
    qat: QATFinetuningConfig
    def __init__(self, lora: _Optional[_Union[LoraFinetuningConfig, _Mapping]] = ..., qat: _Optional[_Union[QATFinetuningConfig, _Mapping]] = ...) -> None: ...

class SupervisedFineTuneRequest(_message.Message):
    __slots__ = ("job_id", "model", "training_config", "algorithm_config", "checkpoint_dir", "hyperparam_search_config", "logger_config")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    TRAINING_CONFIG_FIELD_NUMBER: _ClassVar[int]
    ALGORITHM_CONFIG_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_DIR_FIELD_NUMBER: _ClassVar[int]
    HYPERPARAM_SEARCH_CONFIG_FIELD_NUMBER: _ClassVar[int]
    LOGGER_CONFIG_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    model: str
    training_config: TrainingConfig
    algorithm_config: AlgorithmConfig
    checkpoint_dir: str
    hyperparam_search_config: _struct_pb2.Struct
    logger_config: _struct_pb2.Struct
    def __init__(self, job_id: _Optional[str] = ..., model: _Optional[str] = ..., training_config: _Optional[_Union[TrainingConfig, _Mapping]] = ..., algorithm_config: _Optional[_Union[AlgorithmConfig, _Mapping]] = ..., checkpoint_dir: _Optional[str] = ..., hyperparam_search_config: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., logger_config: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class DPOAlignmentConfig(_message.Message):
    __slots__ = ("beta", "loss_type")
    BETA_FIELD_NUMBER: _ClassVar[int]
    LOSS_TYPE_FIELD_NUMBER: _ClassVar[int]
    beta: float
    loss_type: DPOLossType
    def __init__(self, beta: _Optional[float] = ..., loss_type: _Optional[_Union[DPOLossType, str]] = ...) -> None: ...

class PreferenceOptimizeRequest(_message.Message):
    __slots__ = ("job_id", "finetuned_model", "algorithm_config", "training_config", "checkpoint_dir", "hyperparam_search_config", "logger_config")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    FINETUNED_MODEL_FIELD_NUMBER: _ClassVar[int]
    ALGORITHM_CONFIG_FIELD_NUMBER: _ClassVar[int]
    TRAINING_CONFIG_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_DIR_FIELD_NUMBER: _ClassVar[int]
    HYPERPARAM_SEARCH_CONFIG_FIELD_NUMBER: _ClassVar[int]
    LOGGER_CONFIG_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    finetuned_model: str
    algorithm_config: DPOAlignmentConfig
    training_config: TrainingConfig
    checkpoint_dir: str
    hyperparam_search_config: _struct_pb2.Struct
    logger_config: _struct_pb2.Struct
    def __init__(self, job_id: _Optional[str] = ..., finetuned_model: _Optional[str] = ..., algorithm_config: _Optional[_Union[DPOAlignmentConfig, _Mapping]] = ..., training_config: _Optional[_Union[TrainingConfig, _Mapping]] = ..., checkpoint_dir: _Optional[str] = ..., hyperparam_search_config: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., logger_config: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class TrainingMetrics(_message.Message):
    __slots__ = ("epoch", "train_loss", "validation_loss", "perplexity")
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    TRAIN_LOSS_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_LOSS_FIELD_NUMBER: _ClassVar[int]
    PERPLEXITY_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    train_loss: float
    validation_loss: float
    perplexity: float
    def __init__(self, epoch: _Optional[int] = ..., train_loss: _Optional[float] = ..., validation_loss: _Optional[float] = ..., perplexity: _Optional[float] = ...) -> None: ...

class Checkpoint(_message.Message):
    __slots__ = ("identifier", "create_time", "epoch", "job_id", "path", "training_metrics")
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    TRAINING_METRICS_FIELD_NUMBER: _ClassVar[int]
    identifier: str
    create_time: _timestamp_pb2.Timestamp
    epoch: int
    job_id: str
    path: str
    training_metrics: TrainingMetrics
    def __init__(self, identifier: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., epoch: _Optional[int] = ..., job_id: _Optional[str] = ..., path: _Optional[str] = ..., training_metrics: _Optional[_Union[TrainingMetrics, _Mapping]] = ...) -> None: ...

class TrainingJob(_message.Message):
    __slots__ = ("job", "type", "model", "resources_allocated", "checkpoints")
    JOB_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_ALLOCATED_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINTS_FIELD_NUMBER: _ClassVar[int]
    job: _jobs_pb2.Job
    type: TrainingJobType
    model: str
    resources_allocated: _struct_pb2.Struct
    checkpoints: _containers.RepeatedCompositeFieldContainer[Checkpoint]
    def __init__(self, job: _Optional[_Union[_jobs_pb2.Job, _Mapping]] = ..., type: _Optional[_Union[TrainingJobType, str]] = ..., model: _Optional[str] = ..., resources_allocated: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., checkpoints: _Optional[_Iterable[_Union[Checkpoint, _Mapping]]] = ...) -> None: ...

class GetTrainingJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class ListTrainingJobsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListTrainingJobsResponse(_message.Message):
    __slots__ = ("jobs", "next_page_token")
    JOBS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[TrainingJob]
    next_page_token: str
    def __init__(self, jobs: _Optional[_Iterable[_Union[TrainingJob, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CancelTrainingJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class GetTrainingJobArtifactsRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class GetTrainingJobArtifactsResponse(_message.Message):
    __slots__ = ("job_id", "checkpoints")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINTS_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    checkpoints: _containers.RepeatedCompositeFieldContainer[Checkpoint]
    def __init__(self, job_id: _Optional[str] = ..., checkpoints: _Optional[_Iterable[_Union[Checkpoint, _Mapping]]] = ...) -> None: ...
