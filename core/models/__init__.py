"""All models, imported here so Base.metadata (and Alembic) sees every table."""
from core.models.alerts import Alert, AlertDelivery, AlertRecipient, AlertRule
from core.models.audit import AuditEntry
from core.models.auth import ApiToken, User
from core.models.baixa import BaixaEstorno, BaixaLeitura, Produto, ProdutoRemovido
from core.models.comprovantes import Comprovante
from core.models.devices import Device, DeviceStore
from core.models.health import DeviceHealthSample, DeviceStatus
from core.models.jobs import DeadLetter, Job
from core.models.ruptura import EntradaProgramada, EstoqueAtual, Pedido, PedidoItem
from core.models.sync import SyncCheckpoint, SyncRun

__all__ = ["Alert", "AlertDelivery", "AlertRecipient", "AlertRule",
           "AuditEntry", "BaixaEstorno", "BaixaLeitura", "Comprovante",
           "Device", "DeviceHealthSample", "DeviceStatus", "DeviceStore",
           "EntradaProgramada", "EstoqueAtual", "Pedido", "PedidoItem",
           "ApiToken", "DeadLetter", "Job", "Produto", "ProdutoRemovido", "User",
           "SyncCheckpoint", "SyncRun"]
