"""What a tool handler can ask for by annotating a parameter with :class:`ToolContext`."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from structlog.typing import FilteringBoundLogger

    from cvibot._protocol.events import ToolCall
    from cvibot._protocol.interactions import Interaction, SensitivityLevel

__all__ = ["Conversation", "ToolContext"]


class Conversation(Protocol):
    """The outbound side of one conversation, as plugins and handlers see it."""

    @property
    def conversation_id(self) -> str | None: ...

    @property
    def pipeline_mode(self) -> str: ...

    async def send(self, interaction: Interaction) -> None:
        """Send one interaction (protocol reference §3) to the conversation.

        Raises :class:`cvibot._protocol.MessageTooLarge` when the encoded message exceeds
        the configured app-message limit (Daily's 4 KB by default).
        """
        ...


class ToolContext:
    """Per-call context, injected into any handler parameter annotated ``ToolContext``.

    The parameter is left out of the tool's JSON Schema. Attributes:

    - ``conversation_id``, ``tool_call_id``, ``inference_id``, ``seq``, ``turn_idx``: the
      call's identifiers (protocol reference §2, §4.4); ``tool_call_id`` is ``None`` for
      calls of the older shape, ``inference_id`` is the user utterance that triggered it.
    - ``tool``: the tool name; ``call``: the parsed :class:`~cvibot._protocol.events.ToolCall`.
    - ``log``: a structlog logger bound with the identifiers above.
    - ``settings``: the ``settings`` mapping the config gives the plugin that owns the tool.
    - ``timestamp``: when Tavus emitted the call (Unix seconds), or when it arrived.
    - ``deadline``: ``time.monotonic()`` value at which the call times out.
    - ``cancelled``: true once the call was cancelled or timed out; a sync handler running
      in the thread pool cannot be stopped, so a long one should check it and return early.

    The outbound methods send interactions to the same conversation at once, independent
    of the call's own answer (for example an ``echo`` filler before a slow lookup).
    """

    __slots__ = (
        "_cancel",
        "call",
        "conversation",
        "deadline",
        "log",
        "settings",
        "timestamp",
        "tool",
    )

    def __init__(
        self,
        *,
        call: ToolCall,
        tool: str,
        conversation: Conversation,
        log: FilteringBoundLogger,
        settings: Mapping[str, Any],
        deadline: float,
        timestamp: float | None = None,
    ) -> None:
        self.call = call
        self.tool = tool
        self.conversation = conversation
        self.log = log
        self.settings = settings
        self.deadline = deadline
        self.timestamp = timestamp if timestamp is not None else (call.timestamp or time.time())
        self._cancel = threading.Event()

    @property
    def conversation_id(self) -> str | None:
        return self.conversation.conversation_id or self.call.conversation_id

    @property
    def tool_call_id(self) -> str | None:
        return self.call.tool_call_id

    @property
    def inference_id(self) -> str | None:
        return self.call.inference_id

    @property
    def seq(self) -> int | None:
        return self.call.seq

    @property
    def turn_idx(self) -> int | None:
        return self.call.turn_idx

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def remaining(self) -> float:
        """Seconds left before the call times out (never negative)."""
        return max(0.0, self.deadline - time.monotonic())

    def _mark_cancelled(self) -> None:
        self._cancel.set()

    async def send(self, interaction: Interaction) -> None:
        """Send any interaction; see :meth:`Conversation.send`."""
        await self.conversation.send(interaction)

    async def echo(self, text: str) -> None:
        """Make the replica say ``text`` verbatim (``conversation.echo``, §3.2)."""
        from cvibot._protocol.interactions import Echo

        await self.conversation.send(Echo(text=text))

    async def respond(self, text: str) -> None:
        """Feed ``text`` to Tavus's LLM as if the user said it (``conversation.respond``, §3.3)."""
        from cvibot._protocol.interactions import Respond

        await self.conversation.send(Respond(text=text))

    async def interrupt(self) -> None:
        """Stop the replica mid-speech (``conversation.interrupt``, §3.4)."""
        from cvibot._protocol.interactions import Interrupt

        await self.conversation.send(Interrupt())

    async def append_context(self, context: str, job_status: str | None = None) -> None:
        """Append to the LLM context silently (``conversation.append_llm_context``, §3.5)."""
        from cvibot._protocol.interactions import AppendContext

        await self.conversation.send(AppendContext(context=context, job_status=job_status))

    async def overwrite_context(self, context: str) -> None:
        """Replace the LLM context (``conversation.overwrite_llm_context``, §3.5)."""
        from cvibot._protocol.interactions import OverwriteContext

        await self.conversation.send(OverwriteContext(context=context))

    async def set_sensitivity(
        self,
        *,
        pause: SensitivityLevel | None = None,
        interrupt: SensitivityLevel | None = None,
    ) -> None:
        """Change turn-taking sensitivity live (``conversation.sensitivity``, §3.6)."""
        from cvibot._protocol.interactions import Sensitivity

        await self.conversation.send(
            Sensitivity(
                participant_pause_sensitivity=pause,
                participant_interrupt_sensitivity=interrupt,
            )
        )
