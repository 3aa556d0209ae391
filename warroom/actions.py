"""The import path SREs write in their action modules: `from warroom.actions import action`.

Room: runbooks (the stable face of warroom/runbooks/actions.py, where the registry lives).
"""

from warroom.runbooks.actions import ActionModuleError, action, call, load_modules, registered

__all__ = ["ActionModuleError", "action", "call", "load_modules", "registered"]
