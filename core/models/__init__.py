"""All models, imported here so Base.metadata (and Alembic) sees every table."""
from core.models.auth import ApiToken, User
from core.models.jobs import DeadLetter, Job
from core.models.produtos import Produto, ProdutoRemovido

__all__ = ["ApiToken", "DeadLetter", "Job", "Produto", "ProdutoRemovido", "User"]
