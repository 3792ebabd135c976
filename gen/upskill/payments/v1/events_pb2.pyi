import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from upskill.type.v1 import money_pb2 as _money_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PaymentSucceeded(_message.Message):
    __slots__ = ("payment_id", "enrollment_id", "learner_id", "amount", "gateway", "gateway_payment_id", "occur_time")
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    ENROLLMENT_ID_FIELD_NUMBER: _ClassVar[int]
    LEARNER_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    OCCUR_TIME_FIELD_NUMBER: _ClassVar[int]
    payment_id: str
    enrollment_id: str
    learner_id: str
    amount: _money_pb2.Money
    gateway: str
    gateway_payment_id: str
    occur_time: _timestamp_pb2.Timestamp
    def __init__(self, payment_id: _Optional[str] = ..., enrollment_id: _Optional[str] = ..., learner_id: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., gateway: _Optional[str] = ..., gateway_payment_id: _Optional[str] = ..., occur_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PaymentFailed(_message.Message):
    __slots__ = ("payment_id", "enrollment_id", "reason", "occur_time")
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    ENROLLMENT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    OCCUR_TIME_FIELD_NUMBER: _ClassVar[int]
    payment_id: str
    enrollment_id: str
    reason: str
    occur_time: _timestamp_pb2.Timestamp
    def __init__(self, payment_id: _Optional[str] = ..., enrollment_id: _Optional[str] = ..., reason: _Optional[str] = ..., occur_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PaymentRefunded(_message.Message):
    __slots__ = ("payment_id", "enrollment_id", "learner_id", "provider_id", "refund_id", "gateway_refund_id", "amount", "reason", "full_refund", "gateway", "occur_time")
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    ENROLLMENT_ID_FIELD_NUMBER: _ClassVar[int]
    LEARNER_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    FULL_REFUND_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_FIELD_NUMBER: _ClassVar[int]
    OCCUR_TIME_FIELD_NUMBER: _ClassVar[int]
    payment_id: str
    enrollment_id: str
    learner_id: str
    provider_id: str
    refund_id: str
    gateway_refund_id: str
    amount: _money_pb2.Money
    reason: str
    full_refund: bool
    gateway: str
    occur_time: _timestamp_pb2.Timestamp
    def __init__(self, payment_id: _Optional[str] = ..., enrollment_id: _Optional[str] = ..., learner_id: _Optional[str] = ..., provider_id: _Optional[str] = ..., refund_id: _Optional[str] = ..., gateway_refund_id: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., reason: _Optional[str] = ..., full_refund: _Optional[bool] = ..., gateway: _Optional[str] = ..., occur_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
