import datetime

from buf.validate import validate_pb2 as _validate_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from upskill.type.v1 import money_pb2 as _money_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PaymentStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PAYMENT_STATUS_UNSPECIFIED: _ClassVar[PaymentStatus]
    PAYMENT_STATUS_PENDING: _ClassVar[PaymentStatus]
    PAYMENT_STATUS_SUCCEEDED: _ClassVar[PaymentStatus]
    PAYMENT_STATUS_FAILED: _ClassVar[PaymentStatus]
    PAYMENT_STATUS_EXPIRED: _ClassVar[PaymentStatus]
    PAYMENT_STATUS_REFUNDED: _ClassVar[PaymentStatus]

class RefundStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REFUND_STATUS_UNSPECIFIED: _ClassVar[RefundStatus]
    REFUND_STATUS_PENDING: _ClassVar[RefundStatus]
    REFUND_STATUS_SUCCEEDED: _ClassVar[RefundStatus]
    REFUND_STATUS_FAILED: _ClassVar[RefundStatus]
PAYMENT_STATUS_UNSPECIFIED: PaymentStatus
PAYMENT_STATUS_PENDING: PaymentStatus
PAYMENT_STATUS_SUCCEEDED: PaymentStatus
PAYMENT_STATUS_FAILED: PaymentStatus
PAYMENT_STATUS_EXPIRED: PaymentStatus
PAYMENT_STATUS_REFUNDED: PaymentStatus
REFUND_STATUS_UNSPECIFIED: RefundStatus
REFUND_STATUS_PENDING: RefundStatus
REFUND_STATUS_SUCCEEDED: RefundStatus
REFUND_STATUS_FAILED: RefundStatus

class SeatPackOrder(_message.Message):
    __slots__ = ("employer_id", "employer_name", "seats", "price_per_seat")
    EMPLOYER_ID_FIELD_NUMBER: _ClassVar[int]
    EMPLOYER_NAME_FIELD_NUMBER: _ClassVar[int]
    SEATS_FIELD_NUMBER: _ClassVar[int]
    PRICE_PER_SEAT_FIELD_NUMBER: _ClassVar[int]
    employer_id: str
    employer_name: str
    seats: int
    price_per_seat: _money_pb2.Money
    def __init__(self, employer_id: _Optional[str] = ..., employer_name: _Optional[str] = ..., seats: _Optional[int] = ..., price_per_seat: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...

class Payment(_message.Message):
    __slots__ = ("id", "enrollment_id", "learner_id", "provider_id", "amount", "status", "gateway", "checkout_session_id", "checkout_url", "gateway_payment_id", "failure_reason", "create_time", "update_time", "program_id", "destination_account", "application_fee_minor", "seat_pack")
    ID_FIELD_NUMBER: _ClassVar[int]
    ENROLLMENT_ID_FIELD_NUMBER: _ClassVar[int]
    LEARNER_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_FIELD_NUMBER: _ClassVar[int]
    CHECKOUT_SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CHECKOUT_URL_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    FAILURE_REASON_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_FEE_MINOR_FIELD_NUMBER: _ClassVar[int]
    SEAT_PACK_FIELD_NUMBER: _ClassVar[int]
    id: str
    enrollment_id: str
    learner_id: str
    provider_id: str
    amount: _money_pb2.Money
    status: PaymentStatus
    gateway: str
    checkout_session_id: str
    checkout_url: str
    gateway_payment_id: str
    failure_reason: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    program_id: str
    destination_account: str
    application_fee_minor: int
    seat_pack: SeatPackOrder
    def __init__(self, id: _Optional[str] = ..., enrollment_id: _Optional[str] = ..., learner_id: _Optional[str] = ..., provider_id: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., status: _Optional[_Union[PaymentStatus, str]] = ..., gateway: _Optional[str] = ..., checkout_session_id: _Optional[str] = ..., checkout_url: _Optional[str] = ..., gateway_payment_id: _Optional[str] = ..., failure_reason: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., program_id: _Optional[str] = ..., destination_account: _Optional[str] = ..., application_fee_minor: _Optional[int] = ..., seat_pack: _Optional[_Union[SeatPackOrder, _Mapping]] = ...) -> None: ...

class CheckoutSession(_message.Message):
    __slots__ = ("id", "payment_id", "description", "amount", "status", "success_url", "cancel_url", "expire_time", "seat_pack")
    ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_URL_FIELD_NUMBER: _ClassVar[int]
    CANCEL_URL_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    SEAT_PACK_FIELD_NUMBER: _ClassVar[int]
    id: str
    payment_id: str
    description: str
    amount: _money_pb2.Money
    status: str
    success_url: str
    cancel_url: str
    expire_time: _timestamp_pb2.Timestamp
    seat_pack: SeatPackOrder
    def __init__(self, id: _Optional[str] = ..., payment_id: _Optional[str] = ..., description: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., status: _Optional[str] = ..., success_url: _Optional[str] = ..., cancel_url: _Optional[str] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., seat_pack: _Optional[_Union[SeatPackOrder, _Mapping]] = ...) -> None: ...

class Refund(_message.Message):
    __slots__ = ("id", "payment_id", "enrollment_id", "learner_id", "provider_id", "amount", "reason", "status", "gateway", "gateway_refund_id", "full_refund", "last_error", "create_time", "complete_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    ENROLLMENT_ID_FIELD_NUMBER: _ClassVar[int]
    LEARNER_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    FULL_REFUND_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    payment_id: str
    enrollment_id: str
    learner_id: str
    provider_id: str
    amount: _money_pb2.Money
    reason: str
    status: RefundStatus
    gateway: str
    gateway_refund_id: str
    full_refund: bool
    last_error: str
    create_time: _timestamp_pb2.Timestamp
    complete_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., payment_id: _Optional[str] = ..., enrollment_id: _Optional[str] = ..., learner_id: _Optional[str] = ..., provider_id: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., reason: _Optional[str] = ..., status: _Optional[_Union[RefundStatus, str]] = ..., gateway: _Optional[str] = ..., gateway_refund_id: _Optional[str] = ..., full_refund: _Optional[bool] = ..., last_error: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., complete_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Dispute(_message.Message):
    __slots__ = ("id", "gateway_dispute_id", "payment_id", "enrollment_id", "provider_id", "amount", "reason", "status", "create_time", "update_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_DISPUTE_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    ENROLLMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    gateway_dispute_id: str
    payment_id: str
    enrollment_id: str
    provider_id: str
    amount: _money_pb2.Money
    reason: str
    status: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., gateway_dispute_id: _Optional[str] = ..., payment_id: _Optional[str] = ..., enrollment_id: _Optional[str] = ..., provider_id: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., reason: _Optional[str] = ..., status: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class LedgerLine(_message.Message):
    __slots__ = ("id", "payment_id", "enrollment_id", "program_id", "kind", "currency", "gross_minor", "platform_fee_minor", "provider_net_minor", "fee_bps", "refund_id", "create_time", "available")
    ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    ENROLLMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    GROSS_MINOR_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FEE_MINOR_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_NET_MINOR_FIELD_NUMBER: _ClassVar[int]
    FEE_BPS_FIELD_NUMBER: _ClassVar[int]
    REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    id: int
    payment_id: str
    enrollment_id: str
    program_id: str
    kind: str
    currency: str
    gross_minor: int
    platform_fee_minor: int
    provider_net_minor: int
    fee_bps: int
    refund_id: str
    create_time: _timestamp_pb2.Timestamp
    available: bool
    def __init__(self, id: _Optional[int] = ..., payment_id: _Optional[str] = ..., enrollment_id: _Optional[str] = ..., program_id: _Optional[str] = ..., kind: _Optional[str] = ..., currency: _Optional[str] = ..., gross_minor: _Optional[int] = ..., platform_fee_minor: _Optional[int] = ..., provider_net_minor: _Optional[int] = ..., fee_bps: _Optional[int] = ..., refund_id: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., available: _Optional[bool] = ...) -> None: ...

class EarningsTotal(_message.Message):
    __slots__ = ("currency", "program_id", "gross_minor", "platform_fee_minor", "refunds_minor", "disputes_minor", "net_minor", "available_minor", "pending_minor", "charges")
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    GROSS_MINOR_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FEE_MINOR_FIELD_NUMBER: _ClassVar[int]
    REFUNDS_MINOR_FIELD_NUMBER: _ClassVar[int]
    DISPUTES_MINOR_FIELD_NUMBER: _ClassVar[int]
    NET_MINOR_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_MINOR_FIELD_NUMBER: _ClassVar[int]
    PENDING_MINOR_FIELD_NUMBER: _ClassVar[int]
    CHARGES_FIELD_NUMBER: _ClassVar[int]
    currency: str
    program_id: str
    gross_minor: int
    platform_fee_minor: int
    refunds_minor: int
    disputes_minor: int
    net_minor: int
    available_minor: int
    pending_minor: int
    charges: int
    def __init__(self, currency: _Optional[str] = ..., program_id: _Optional[str] = ..., gross_minor: _Optional[int] = ..., platform_fee_minor: _Optional[int] = ..., refunds_minor: _Optional[int] = ..., disputes_minor: _Optional[int] = ..., net_minor: _Optional[int] = ..., available_minor: _Optional[int] = ..., pending_minor: _Optional[int] = ..., charges: _Optional[int] = ...) -> None: ...
