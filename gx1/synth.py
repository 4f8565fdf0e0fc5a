"""Embedded default data: deterministic gold-like (XAUUSD) bars, or bars of another instrument, for one
calendar year or several.

    python -m gx1.synth --year 2025 --seed 20250101 --out data/bars/xauusd_m5_2025.parquet
    python -m gx1.synth --instrument EURUSD --year 2020 --last_year 2025 --seed 7 --out data/bars/eurusd.parquet

Same arguments -> same bytes; a request of more than ``MAX_BAR_SLOTS`` calendar bar slots (e.g. 1971-2261 at
M1) is refused with one line before anything is allocated. Instruments differ in price level, volatility, decimals and spread
(``INSTRUMENTS``); years are chained (each starts at the previous year's last close, with the seed
``seed + (year - first year)``), so several years are one continuous series. The market model, all
whole-array numpy:
- calendar: the trading week runs Sunday 22:00 to Friday 21:00 UTC with a daily break
  21:00-22:00; sessions for Jan 1, Good Friday and Dec 25 are closed; about 1.4% of
  bars are missing (no ticks), mostly in quiet hours, as in real feeds;
- returns: Student-t(4) innovations scaled by intraday activity (quiet Asia, busy
  London and New York) times a stochastic volatility level (log-vol is a sum of a
  one-day and a twenty-day moving average of white noise: volatility clustering),
  plus rare jumps around news hours and gaps over the daily break and weekends;
- high/low are drawn from the exact Brownian-bridge extreme between open and close;
- tick volume follows activity, volatility and |return|; the spread (price units)
  is ~0.2-0.3 in trading hours and widens sharply around the daily break and the
  Sunday open.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from gx1.bars import validate_bars, write_bars_parquet
from gx1.common import ArgumentParser, InputError, number_in, run_cli

ANNUAL_DRIFT = 0.10
STUDENT_T_DEGREES = 4
MAX_SHOCK = 10.0  # innovations beyond 10 standard deviations are clipped
MINUTES_PER_DAY = 1440
BREAK_START_MINUTE, BREAK_END_MINUTE = 21 * 60, 22 * 60  # daily break, UTC
TREND_STRENGTH = 0.10  # a slowly varying drift (in units of the bar's sigma): a weak, learnable momentum signal
TREND_BARS = 36  # the drift's persistence, in bars
MISSING_BAR_RATE = 0.07  # times (1 - activity) where activity < 1
# A request's bars are held in memory several times over (about 110 bytes a bar at the peak, and the dataset
# stage's features far more): 10 million calendar slots (19 years of M1, 95 of M5) is ~7 million bars.
MAX_BAR_SLOTS = 10_000_000


@dataclass(frozen=True)
class Instrument:
    """What tells one synthetic instrument from another: price level, volatility regime, tick size."""

    start_price: float
    annual_volatility: float  # diffusion part; jumps and gaps add about 1 point
    decimals: int             # prices (and spreads) are rounded to this many decimals
    spread_scale: float       # the spread model's gold figures (about 0.2-0.3 in trading hours) times this


INSTRUMENTS = {
    "XAUUSD": Instrument(2600.0, 0.14, 2, 1.0),
    "XAGUSD": Instrument(30.0, 0.26, 3, 0.012),
    "EURUSD": Instrument(1.08, 0.07, 5, 0.0004),
    "GBPUSD": Instrument(1.27, 0.08, 5, 0.0005),
    "USDJPY": Instrument(150.0, 0.09, 3, 0.06),
    "US500": Instrument(5000.0, 0.17, 2, 2.0),
}


def _good_friday(year: int) -> dt.date:
    """Good Friday from the anonymous Gregorian Easter algorithm."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    weekday_offset = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * weekday_offset) // 451
    month, day = divmod(h + weekday_offset - 7 * m + 114, 31)
    return dt.date(year, month, day + 1) - dt.timedelta(days=2)


def trading_minutes(year: int, interval_minutes: int) -> np.ndarray:
    """Bar open times (minutes since 1970-01-01 UTC) of every open session in ``year``.

    A session is named by the date it ends on: it runs from 22:00 the day before to
    21:00 that day, so shifting times by +2 h maps every bar onto its session date.
    """
    first = int(np.datetime64(f"{year}-01-01", "m").astype(np.int64))
    last = int(np.datetime64(f"{year + 1}-01-01", "m").astype(np.int64))
    minutes = np.arange(first, last, interval_minutes, dtype=np.int64)
    shifted = minutes + (MINUTES_PER_DAY - BREAK_END_MINUTE)
    session_day = shifted // MINUTES_PER_DAY
    weekday = (session_day + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    holidays = [dt.date(year, 1, 1), _good_friday(year), dt.date(year, 12, 25), dt.date(year + 1, 1, 1)]
    holiday_days = np.array([(day - dt.date(1970, 1, 1)).days for day in holidays])
    in_break = shifted % MINUTES_PER_DAY >= MINUTES_PER_DAY - (BREAK_END_MINUTE - BREAK_START_MINUTE)
    is_open = (weekday < 5) & ~in_break & ~np.isin(session_day, holiday_days)
    return minutes[is_open]


def intraday_activity(minute_of_day: np.ndarray) -> np.ndarray:
    """Relative volatility by UTC time of day: quiet after the reopen and in Asia, peaks at London and NY."""

    def bump(center_hour: float, width_hours: float) -> np.ndarray:
        distance = (minute_of_day - center_hour * 60 + MINUTES_PER_DAY / 2) % MINUTES_PER_DAY - MINUTES_PER_DAY / 2
        return np.exp(-0.5 * (distance / (width_hours * 60)) ** 2)

    return 0.45 + 0.20 * bump(1.5, 1.5) + 0.55 * bump(8.0, 2.0) + 1.00 * bump(13.75, 1.8) + 0.30 * bump(15.0, 1.0)


def _moving_average_noise(rng: np.random.Generator, length: int, window: int) -> np.ndarray:
    """Unit-variance moving average of white noise over ``window`` steps (a persistent, smooth process)."""
    cumulative = np.concatenate(([0.0], np.cumsum(rng.standard_normal(length + window))))
    return (cumulative[window:][:length] - cumulative[:length]) / np.sqrt(window)


def bar_slots(year: int, last_year: int, interval_minutes: int) -> int:
    """Calendar bar slots of ``year``..``last_year`` (every interval of every day; about 70% are trading bars)."""
    days = sum(366 if (y % 4 == 0 and y % 100 != 0) or y % 400 == 0 else 365 for y in range(year, last_year + 1))
    return days * MINUTES_PER_DAY // interval_minutes


def generate_gold_bars(year: int = 2025, seed: int = 20250101, interval_minutes: int = 5) -> dict[str, np.ndarray]:
    """Deterministic gold-like bars (a bars table, see gx1.bars) for one calendar year."""
    return generate_bars("XAUUSD", year, year, seed, interval_minutes)


def generate_bars(instrument: str = "XAUUSD", year: int = 2025, last_year: int | None = None, seed: int = 20250101,
                  interval_minutes: int = 5) -> dict[str, np.ndarray]:
    """Deterministic bars of ``instrument`` (a key of INSTRUMENTS) for ``year`` .. ``last_year``, chained."""
    if instrument not in INSTRUMENTS:
        raise InputError(f"unknown synthetic instrument {instrument!r}: choose one of {', '.join(INSTRUMENTS)}")
    last_year = year if last_year is None else last_year
    if last_year < year:
        raise InputError(f"last_year {last_year} is before year {year}")
    if interval_minutes <= 0 or 60 % interval_minutes:
        raise InputError(f"interval_minutes must divide 60 (1, 5, 15, 60, ...), got {interval_minutes}")
    slots = bar_slots(year, last_year, interval_minutes)
    if slots > MAX_BAR_SLOTS:
        raise InputError(f"{year}..{last_year} at {interval_minutes}-minute bars is {slots:,} bar slots, more than the "
                         f"{MAX_BAR_SLOTS:,} one synthetic request may hold (about {MAX_BAR_SLOTS / 525_960:.0f} years of "
                         f"1-minute bars, {MAX_BAR_SLOTS * 5 / 525_960:.0f} of 5-minute): ask for fewer years or longer bars")
    years, price = [], INSTRUMENTS[instrument].start_price
    for offset, one_year in enumerate(range(year, last_year + 1)):
        years.append(_one_year(INSTRUMENTS[instrument], one_year, seed + offset, interval_minutes, price))
        price = float(years[-1]["close"][-1])
    return {name: np.concatenate([bars[name] for bars in years]) for name in years[0]}


def _one_year(profile: Instrument, year: int, seed: int, interval_minutes: int, start_price: float) -> dict[str, np.ndarray]:
    """One calendar year of bars. The random draws happen in one fixed order (the helpers below take the
    generator in turn), so the same seed gives the same bytes."""
    if interval_minutes <= 0 or 60 % interval_minutes:
        raise InputError(f"interval_minutes must divide 60 (1, 5, 15, 60, ...), got {interval_minutes}")
    rng = np.random.default_rng(seed)
    minutes = trading_minutes(year, interval_minutes)
    count = len(minutes)
    minute_of_day = minutes % MINUTES_PER_DAY
    activity = intraday_activity(minute_of_day)
    activity /= np.sqrt(np.mean(activity**2))
    sigma, volatility_level = _volatility(rng, activity, count, MINUTES_PER_DAY // interval_minutes, profile.annual_volatility)
    intrabar = _intrabar_returns(rng, np.random.default_rng([seed, 1]), activity, sigma, count)
    minutes_since_previous = np.diff(minutes, prepend=minutes[0] - 3 * MINUTES_PER_DAY)
    log_open, log_close, log_high, log_low = _price_path(rng, intrabar, sigma, minutes_since_previous, interval_minutes,
                                                         start_price)
    abs_shock = np.abs(log_close - log_open) / sigma
    tick_volume = np.maximum(1.0, np.round(
        700.0 * activity**1.5 * volatility_level * (0.6 + 0.4 * abs_shock) * rng.lognormal(0.0, 0.3, count)
    ))
    spread = profile.spread_scale * _spread(rng, activity, volatility_level, minute_of_day, minutes_since_previous,
                                            interval_minutes)
    keep = rng.random(count) >= MISSING_BAR_RATE * np.clip(1.0 - activity, 0.0, 1.0)  # missing bars, mostly in quiet hours
    digits, tick = profile.decimals, 10.0 ** -profile.decimals
    open_, close = np.round(np.exp(log_open), digits), np.round(np.exp(log_close), digits)
    bars = {
        "time": (minutes * 60).astype("datetime64[s]").astype("datetime64[ns]"),
        "open": open_,
        "high": np.maximum(np.round(np.exp(log_high), digits), np.maximum(open_, close)),
        "low": np.minimum(np.round(np.exp(log_low), digits), np.minimum(open_, close)),
        "close": close,
        "volume": tick_volume,
        "spread": np.maximum(tick, np.round(spread, digits)),
    }
    return {name: column[keep] for name, column in bars.items()}


def _volatility(rng: np.random.Generator, activity: np.ndarray, count: int, bars_per_day: int,
                annual_volatility: float) -> tuple[np.ndarray, np.ndarray]:
    """(per-bar return scale, clustered volatility level): intraday activity x a level from the annual figures."""
    log_level = 0.35 * _moving_average_noise(rng, count, bars_per_day) + 0.30 * _moving_average_noise(rng, count, 20 * bars_per_day)
    volatility_level = np.exp(log_level - (0.35**2 + 0.30**2))  # E[level^2] = 1
    return annual_volatility * np.sqrt(1.0 / count) * activity * volatility_level, volatility_level


def _intrabar_returns(rng: np.random.Generator, trend_rng: np.random.Generator, activity: np.ndarray, sigma: np.ndarray,
                      count: int) -> np.ndarray:
    """Returns inside each bar: fat-tailed diffusion, rare jumps (more likely in busy hours) and a persistent drift
    from its own stream (so the other series stay as they were): momentum to learn."""
    shocks = rng.standard_t(STUDENT_T_DEGREES, count) / np.sqrt(STUDENT_T_DEGREES / (STUDENT_T_DEGREES - 2))
    shocks = np.clip(shocks, -MAX_SHOCK, MAX_SHOCK)
    jumps = (rng.random(count) < 0.0015 * activity**2) * np.clip(rng.normal(0.0, 5.0, count), -3 * MAX_SHOCK, 3 * MAX_SHOCK) * sigma
    trend = TREND_STRENGTH * _moving_average_noise(trend_rng, count, TREND_BARS)
    return ANNUAL_DRIFT * (1.0 / count) + sigma * (shocks + trend) + jumps


def _price_path(rng: np.random.Generator, intrabar: np.ndarray, sigma: np.ndarray, minutes_since_previous: np.ndarray,
                interval_minutes: int, start_price: float) -> tuple[np.ndarray, ...]:
    """Log open, close, high, low: gaps between a bar's open and the previous close (ticks, the daily break,
    weekends/holidays), then exact Brownian-bridge extremes between open and close for the bar's scale."""
    count = len(intrabar)
    gap_scale = np.where(minutes_since_previous > interval_minutes, 8e-4, 5e-6)
    gap_scale = np.where(minutes_since_previous > MINUTES_PER_DAY, 3e-3, gap_scale)
    gaps = rng.normal(0.0, 1.0, count) * gap_scale
    gaps[0] = 0.0
    log_close = np.log(start_price) + np.cumsum(gaps + intrabar)
    log_open = log_close - intrabar
    move, middle = np.abs(log_close - log_open), (log_close + log_open) / 2
    log_high = middle + 0.5 * np.sqrt(move**2 - 2 * sigma**2 * np.log(1.0 - rng.random(count)))
    log_low = middle - 0.5 * np.sqrt(move**2 - 2 * sigma**2 * np.log(1.0 - rng.random(count)))
    return log_open, log_close, log_high, log_low


def _spread(rng: np.random.Generator, activity: np.ndarray, volatility_level: np.ndarray, minute_of_day: np.ndarray,
            minutes_since_previous: np.ndarray, interval_minutes: int) -> np.ndarray:
    """Spread: wider in quiet hours, much wider just before the break and after the reopen (most on Sunday)."""
    count = len(activity)
    minutes_into_session = (minute_of_day - BREAK_END_MINUTE) % MINUTES_PER_DAY
    minutes_to_close = (BREAK_START_MINUTE - BREAK_END_MINUTE) % MINUTES_PER_DAY - minutes_into_session - interval_minutes
    session_open_index = np.maximum.accumulate(np.where(minutes_since_previous > interval_minutes, np.arange(count), 0))
    after_long_closure = minutes_since_previous[session_open_index] > MINUTES_PER_DAY
    reopen_widening = np.where(after_long_closure, 10.0, 4.0) * np.exp(-minutes_into_session / 15.0)
    close_widening = 2.0 * np.exp(-minutes_to_close / 10.0)
    spread = (0.16 + 0.06 / activity) * volatility_level**0.3 * rng.lognormal(0.0, 0.08, count)
    return spread * (1.0 + reopen_widening + close_widening)


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m gx1.synth", description="Write deterministic gold-like bars for one year.")
    parser.add_argument("--instrument", choices=sorted(INSTRUMENTS), default="XAUUSD", help="instrument profile (default XAUUSD)")
    parser.add_argument("--year", type=number_in(int, 1971, 2261), default=2025, help="calendar year (default 2025)")
    parser.add_argument("--last_year", type=number_in(int, 1971, 2261), default=None,
                        help="last calendar year, chained after --year (default: --year alone)")
    parser.add_argument("--seed", type=number_in(int, 0, 2**63 - 1), default=20250101, help="random seed (default 20250101)")
    parser.add_argument("--interval_minutes", type=int, default=5, help="bar interval in minutes, must divide 60 (default 5)")
    parser.add_argument("--out", required=True, help="bars parquet to write")
    args = parser.parse_args(argv)
    from gx1.bars import bars_kind
    from gx1.outputs import check_file
    check_file(args.out, bars_kind())  # absent, or bars gx1 wrote: never another file

    bars = generate_bars(args.instrument, args.year, args.last_year, args.seed, args.interval_minutes)
    validate_bars(bars)
    write_bars_parquet(bars, args.out)
    first, last = (np.datetime_as_string(bars["time"][i], unit="s") for i in (0, -1))
    print(
        f"wrote {args.out}: {len(bars['time'])} bars, {first} .. {last} UTC, "
        f"price {bars['low'].min():.6g} .. {bars['high'].max():.6g}, close {bars['close'][-1]:.6g}"
    )
    return 0


if __name__ == "__main__":
    run_cli(main)
