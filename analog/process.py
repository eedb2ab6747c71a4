"""Device model parameters (process cards) for the SPICE and analytic backends.

Holds the level-1 MOSFET parameters of the course process used by the L2DC benchmark and a
holder for user-supplied SPICE cards (BSIM or any other level). Imports nothing from the rest of
``reram``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["MosParams", "Level1Process", "SpiceModelCards", "L2DC_PROCESS", "model_name"]


def model_name(polarity: str, length_um: float) -> str:
    """Name of the SPICE model used for a device of one polarity and drawn length.

    Level-1 ``LAMBDA`` depends on the length, so each (polarity, length) pair gets its own card.

    Args:
        polarity: ``"n"`` or ``"p"``.
        length_um: drawn channel length in micrometres.

    Returns:
        A SPICE model name such as ``nch_l1p0``.
    """
    if polarity not in ("n", "p"):
        raise ValueError(f"polarity must be 'n' or 'p', got {polarity!r}")
    return f"{polarity}ch_l{length_um:.1f}".replace(".", "p")


@dataclass(frozen=True)
class MosParams:
    """Level-1 (Shichman-Hodges) parameters of one device polarity, SPICE units."""

    vto: float
    """Zero-bias threshold voltage in V (negative for PMOS)."""
    kp: float
    """Transconductance parameter mu*Cox in A/V^2."""
    gamma: float = 0.6
    """Body-effect coefficient in V^0.5."""
    phi: float = 0.8
    """Surface potential in V."""
    tox: float = 15e-9
    """Gate-oxide thickness in m (15 nm gives Cox = 2.3 fF/um^2)."""
    lambda_um: float = 0.1
    """Channel-length modulation times the length: LAMBDA = lambda_um / L[um], in um/V."""
    cgdo: float = 0.5e-9
    """Gate-drain overlap capacitance in F/m."""
    cgso: float = 0.5e-9
    """Gate-source overlap capacitance in F/m."""
    cj: float = 0.1e-3
    """Zero-bias bottom junction capacitance in F/m^2."""
    cjsw: float = 0.5e-9
    """Zero-bias sidewall junction capacitance in F/m."""
    pb: float = 0.95
    """Junction potential in V."""
    mj: float = 0.5
    """Bottom junction grading coefficient."""
    mjsw: float = 0.33
    """Sidewall junction grading coefficient."""

    @property
    def cox(self) -> float:
        """Gate-oxide capacitance per area in F/m^2 (eps_ox / tox)."""
        return 3.9 * 8.854187817e-12 / self.tox

    def lam(self, length_um: float) -> float:
        """Channel-length modulation LAMBDA in 1/V for a drawn length in um."""
        return self.lambda_um / length_um

    def card(self, name: str, polarity: str, length_um: float) -> str:
        """A ``.model`` line for this polarity at one length."""
        kind = "nmos" if polarity == "n" else "pmos"
        return (
            f".model {name} {kind} level=1 vto={self.vto:g} kp={self.kp:g} gamma={self.gamma:g} "
            f"phi={self.phi:g} tox={self.tox:g} lambda={self.lam(length_um):g} cgdo={self.cgdo:g} "
            f"cgso={self.cgso:g} cj={self.cj:g} cjsw={self.cjsw:g} pb={self.pb:g} mj={self.mj:g} "
            f"mjsw={self.mjsw:g}"
        )


@dataclass(frozen=True)
class Level1Process:
    """A level-1 process: NMOS and PMOS parameters plus the junction geometry rule.

    Junctions follow AS = AD = 2 * diffusion_um * W and PS = PD = 4 * diffusion_um + 2 * W.
    """

    name: str
    nmos: MosParams
    pmos: MosParams
    diffusion_um: float = 1.5
    """Length of the source/drain diffusion in um."""
    threshold_vector: str = "von"
    """Name of the device's threshold voltage in ngspice's operating point (``@m1[von]``)."""

    def params(self, polarity: str) -> MosParams:
        """The parameters of ``polarity`` (``"n"`` or ``"p"``)."""
        if polarity not in ("n", "p"):
            raise ValueError(f"polarity must be 'n' or 'p', got {polarity!r}")
        return self.nmos if polarity == "n" else self.pmos

    def model_cards(self, devices: set[tuple[str, float]]) -> list[str]:
        """``.model`` lines for every (polarity, length_um) pair in ``devices``."""
        return [self.params(p).card(model_name(p, l), p, l) for p, l in sorted(devices)]


_MODEL_LINE = re.compile(r"^\s*\.model\s+\S+\s+(.*)$", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class SpiceModelCards:
    """User-supplied SPICE cards (any level, BSIM included) for NMOS and PMOS.

    Each card is either a full ``.model NAME nmos (...)`` line or just its body
    (``nmos level=8 version=3.3 ...``); the name is replaced by this package's own names, so one
    card serves every channel length. ``diffusion_um`` sets the junction geometry as above.

    Example:
        >>> cards = SpiceModelCards(nmos=".model n1 nmos level=8 version=3.3 tox=4e-9",
        ...                         pmos="pmos level=8 version=3.3 tox=4e-9")
    """

    nmos: str
    pmos: str
    name: str = "user"
    diffusion_um: float = 1.5
    threshold_vector: str = "vth"
    """Threshold-voltage name in ngspice's operating point (``vth`` for BSIM3/4, ``von`` for
    levels 1-3)."""

    def _body(self, card: str, kind: str) -> str:
        text = " ".join(line.strip().lstrip("+") for line in card.strip().splitlines())
        match = _MODEL_LINE.match(text)
        body = match.group(1) if match else text
        if not body.lower().lstrip("( ").startswith(kind):
            raise ValueError(f"{kind} card must be of type {kind}, got {card[:40]!r}")
        return body

    def model_cards(self, devices: set[tuple[str, float]]) -> list[str]:
        """``.model`` lines for every (polarity, length_um) pair in ``devices``."""
        lines = []
        for polarity, length in sorted(devices):
            kind = "nmos" if polarity == "n" else "pmos"
            body = self._body(self.nmos if polarity == "n" else self.pmos, kind)
            lines.append(f".model {model_name(polarity, length)} {body}")
        return lines


L2DC_PROCESS = Level1Process(
    name="l2dc-level1",
    nmos=MosParams(vto=0.5, kp=50e-6, cj=0.1e-3, cjsw=0.5e-9),
    pmos=MosParams(vto=-0.5, kp=25e-6, cj=0.3e-3, cjsw=0.35e-9),
)
"""The course level-1 process of the L2DC transimpedance benchmark (published parameters:
VTO +/-0.5 V, KP 50/25 uA/V^2, GAMMA 0.6, PHI 0.8, Cox 2.3 fF/um^2, LAMBDA 0.1/L[um],
CGDO = CGSO 0.5 fF/um, CJ 0.1/0.3 fF/um^2, CJSW 0.5/0.35 fF/um, PB 0.95, MJ 0.5, MJSW 0.33)."""
