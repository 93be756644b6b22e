"""Strategy configuration files: models, YAML loading with file:line errors, version ids."""

from genesis.config.loader import load_strategy_config, load_strategy_configs
from genesis.config.models import StrategyConfig

__all__ = ["StrategyConfig", "load_strategy_config", "load_strategy_configs"]
