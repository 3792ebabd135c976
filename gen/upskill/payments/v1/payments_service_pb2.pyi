import datetime

from buf.validate import validate_pb2 as _validate_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from upskill.payments.v1 import payments_pb2 as _payments_pb2
from upskill.type.v1 import money_pb2 as _money_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreateCheckoutRequest(_message.Message):
    __slots__ = ("enrollment_id", "learner_id", "learner_email", "provider_id", "amount", "description", "success_url", "cancel_url", "program_id", "seat_pack")
    ENROLLMENT_ID_FIELD_NUMBER: _ClassVar[int]
    LEARNER_ID_FIELD_NUMBER: _ClassVar[int]
    LEARNER_EMAIL_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_URL_FIELD_NUMBER: _ClassVar[int]
    CANCEL_URL_FIELD_NUMBER: _ClassVar[int]
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    SEAT_PACK_FIELD_NUMBER: _ClassVar[int]
    enrollment_id: str
    learner_id: str
    learner_email: str
    provider_id: str
    amount: _money_pb2.Money
    description: str
    success_url: str
    cancel_url: str
    program_id: str
    seat_pack: _payments_pb2.SeatPackOrder
    def __init__(self, enrollment_id: _Optional[str] = ..., learner_id: _Optional[str] = ..., learner_email: _Optional[str] = ..., provider_id: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., description: _Optional[str] = ..., success_url: _Optional[str] = ..., cancel_url: _Optional[str] = ..., program_id: _Optional[str] = ..., seat_pack: _Optional[_Union[_payments_pb2.SeatPackOrder, _Mapping]] = ...) -> None: ...

class CreateCheckoutResponse(_message.Message):
    __slots__ = ("payment",)
    PAYMENT_FIELD_NUMBER: _ClassVar[int]
    payment: _payments_pb2.Payment
    def __init__(self, payment: _Optional[_Union[_payments_pb2.Payment, _Mapping]] = ...) -> None: ...

class GetPaymentRequest(_message.Message):
    __slots__ = ("payment_id",)
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    payment_id: str
    def __init__(self, payment_id: _Optional[str] = ...) -> None: ...

class GetPaymentResponse(_message.Message):
    __slots__ = ("payment",)
    PAYMENT_FIELD_NUMBER: _ClassVar[int]
    payment: _payments_pb2.Payment
    def __init__(self, payment: _Optional[_Union[_payments_pb2.Payment, _Mapping]] = ...) -> None: ...

class HandleProviderWebhookRequest(_message.Message):
    __slots__ = ("payload", "signature")
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    payload: bytes
    signature: str
    def __init__(self, payload: _Optional[bytes] = ..., signature: _Optional[str] = ...) -> None: ...

class HandleProviderWebhookResponse(_message.Message):
    __slots__ = ("event_id", "event_type", "duplicate")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    event_type: str
    duplicate: bool
    def __init__(self, event_id: _Optional[str] = ..., event_type: _Optional[str] = ..., duplicate: _Optional[bool] = ...) -> None: ...

class GetCheckoutSessionRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class GetCheckoutSessionResponse(_message.Message):
    __slots__ = ("session", "test_cards")
    SESSION_FIELD_NUMBER: _ClassVar[int]
    TEST_CARDS_FIELD_NUMBER: _ClassVar[int]
    session: _payments_pb2.CheckoutSession
    test_cards: _containers.RepeatedCompositeFieldContainer[TestCard]
    def __init__(self, session: _Optional[_Union[_payments_pb2.CheckoutSession, _Mapping]] = ..., test_cards: _Optional[_Iterable[_Union[TestCard, _Mapping]]] = ...) -> None: ...

class TestCard(_message.Message):
    __slots__ = ("number", "outcome")
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    number: str
    outcome: str
    def __init__(self, number: _Optional[str] = ..., outcome: _Optional[str] = ...) -> None: ...

class PayCheckoutSessionRequest(_message.Message):
    __slots__ = ("session_id", "card_number")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CARD_NUMBER_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    card_number: str
    def __init__(self, session_id: _Optional[str] = ..., card_number: _Optional[str] = ...) -> None: ...

class PayCheckoutSessionResponse(_message.Message):
    __slots__ = ("session", "decline_code", "message")
    SESSION_FIELD_NUMBER: _ClassVar[int]
    DECLINE_CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    session: _payments_pb2.CheckoutSession
    decline_code: str
    message: str
    def __init__(self, session: _Optional[_Union[_payments_pb2.CheckoutSession, _Mapping]] = ..., decline_code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class ListRefundsRequest(_message.Message):
    __slots__ = ("enrollment_id", "page_size", "page_token")
    ENROLLMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    enrollment_id: str
    page_size: int
    page_token: str
    def __init__(self, enrollment_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListRefundsResponse(_message.Message):
    __slots__ = ("refunds", "next_page_token")
    REFUNDS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    refunds: _containers.RepeatedCompositeFieldContainer[_payments_pb2.Refund]
    next_page_token: str
    def __init__(self, refunds: _Optional[_Iterable[_Union[_payments_pb2.Refund, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RefundPaymentRequest(_message.Message):
    __slots__ = ("payment_id", "enrollment_id", "reason", "note", "amount_minor", "idempotency_key")
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    ENROLLMENT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    payment_id: str
    enrollment_id: str
    reason: str
    note: str
    amount_minor: int
    idempotency_key: str
    def __init__(self, payment_id: _Optional[str] = ..., enrollment_id: _Optional[str] = ..., reason: _Optional[str] = ..., note: _Optional[str] = ..., amount_minor: _Optional[int] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class RefundPaymentResponse(_message.Message):
    __slots__ = ("refund",)
    REFUND_FIELD_NUMBER: _ClassVar[int]
    refund: _payments_pb2.Refund
    def __init__(self, refund: _Optional[_Union[_payments_pb2.Refund, _Mapping]] = ...) -> None: ...

class ListDisputesRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListDisputesResponse(_message.Message):
    __slots__ = ("disputes", "next_page_token")
    DISPUTES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    disputes: _containers.RepeatedCompositeFieldContainer[_payments_pb2.Dispute]
    next_page_token: str
    def __init__(self, disputes: _Optional[_Iterable[_Union[_payments_pb2.Dispute, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetProviderEarningsRequest(_message.Message):
    __slots__ = ("provider_id", "start_time", "end_time")
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    provider_id: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    def __init__(self, provider_id: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetProviderEarningsResponse(_message.Message):
    __slots__ = ("totals", "programs")
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    PROGRAMS_FIELD_NUMBER: _ClassVar[int]
    totals: _containers.RepeatedCompositeFieldContainer[_payments_pb2.EarningsTotal]
    programs: _containers.RepeatedCompositeFieldContainer[_payments_pb2.EarningsTotal]
    def __init__(self, totals: _Optional[_Iterable[_Union[_payments_pb2.EarningsTotal, _Mapping]]] = ..., programs: _Optional[_Iterable[_Union[_payments_pb2.EarningsTotal, _Mapping]]] = ...) -> None: ...

class ListLedgerLinesRequest(_message.Message):
    __slots__ = ("provider_id", "start_time", "end_time", "page_size", "page_token")
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    provider_id: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    page_size: int
    page_token: str
    def __init__(self, provider_id: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListLedgerLinesResponse(_message.Message):
    __slots__ = ("lines", "next_page_token")
    LINES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    lines: _containers.RepeatedCompositeFieldContainer[_payments_pb2.LedgerLine]
    next_page_token: str
    def __init__(self, lines: _Optional[_Iterable[_Union[_payments_pb2.LedgerLine, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CreatePayoutAccountLinkRequest(_message.Message):
    __slots__ = ("provider_id",)
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    provider_id: str
    def __init__(self, provider_id: _Optional[str] = ...) -> None: ...

class CreatePayoutAccountLinkResponse(_message.Message):
    __slots__ = ("account_id", "url")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    url: str
    def __init__(self, account_id: _Optional[str] = ..., url: _Optional[str] = ...) -> None: ...
