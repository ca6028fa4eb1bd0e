"""Flask extensions, created unbound and attached to an app by :func:`dxconnect.app.create_app`."""

from flask_migrate import Migrate
from flask_sock import Sock
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData

from dxconnect.accounts.jwt import CachingJWTManager
from dxconnect.web.cors import OriginOnlyCORS

#: Constraint names are fixed so migrations are the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING_CONVENTION))
migrate = Migrate(render_as_batch=True, compare_type=True)
jwt = CachingJWTManager()
sock = Sock()
cors = OriginOnlyCORS()
