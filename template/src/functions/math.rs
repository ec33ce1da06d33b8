//! sprig conversion and math: `atoi int64 int float64 seq toDecimal until untilStep add1 add sub
//! div mod mul randInt add1f addf subf divf mulf biggest max min maxf minf ceil floor round`.

use rand::Rng;

use super::args::{int, text, to_float64, to_int64, to_string};
use super::{FuncResult, Registry};
use crate::value::Value;

/// Longest list `until`/`untilStep`/`seq` build (sprig has no limit; a runaway count would
/// exhaust memory long before producing a useful Secret).
const MAX_SEQUENCE: usize = 1_000_000;

pub fn register(r: &mut Registry<'_>) {
    r.fixed("atoi", 1, |a| {
        Ok(Value::Int(text(a, 0)?.parse::<i64>().unwrap_or(0)))
    });
    r.fixed("int64", 1, |a| Ok(Value::Int(to_int64(&a[0]))));
    r.fixed("int", 1, |a| Ok(Value::Int(to_int64(&a[0]))));
    r.fixed("float64", 1, |a| Ok(Value::Float(to_float64(&a[0]))));
    r.fixed("toDecimal", 1, |a| {
        Ok(Value::Int(
            i64::from_str_radix(&to_string(&a[0]), 8).unwrap_or(0),
        ))
    });
    r.range("seq", 0, None, seq);
    r.fixed("until", 1, |a| {
        let n = int(a, 0)?;
        ints(until_step(0, n, if n < 0 { -1 } else { 1 })?)
    });
    r.fixed("untilStep", 3, |a| {
        ints(until_step(int(a, 0)?, int(a, 1)?, int(a, 2)?)?)
    });
    r.fixed("add1", 1, |a| {
        Ok(Value::Int(to_int64(&a[0]).wrapping_add(1)))
    });
    r.range("add", 0, None, |a| {
        Ok(Value::Int(
            a.iter().map(to_int64).fold(0i64, i64::wrapping_add),
        ))
    });
    r.fixed("sub", 2, |a| {
        Ok(Value::Int(to_int64(&a[0]).wrapping_sub(to_int64(&a[1]))))
    });
    r.fixed("div", 2, |a| {
        let d = to_int64(&a[1]);
        if d == 0 {
            return Err("runtime error: integer divide by zero".into());
        }
        Ok(Value::Int(to_int64(&a[0]).wrapping_div(d)))
    });
    r.fixed("mod", 2, |a| {
        let d = to_int64(&a[1]);
        if d == 0 {
            return Err("runtime error: integer divide by zero".into());
        }
        Ok(Value::Int(to_int64(&a[0]).wrapping_rem(d)))
    });
    r.range("mul", 1, None, |a| {
        Ok(Value::Int(
            a.iter().map(to_int64).fold(1i64, i64::wrapping_mul),
        ))
    });
    r.fixed("randInt", 2, |a| {
        let (min, max) = (int(a, 0)?, int(a, 1)?);
        if max <= min {
            return Err("invalid argument to Intn".into());
        }
        Ok(Value::Int(rand::rng().random_range(min..max)))
    });
    r.fixed("add1f", 1, |a| Ok(Value::Float(to_float64(&a[0]) + 1.0)));
    r.range("addf", 0, None, |a| {
        Ok(Value::Float(a.iter().map(to_float64).sum()))
    });
    r.range("subf", 1, None, |a| {
        Ok(Value::Float(
            a[1..]
                .iter()
                .map(to_float64)
                .fold(to_float64(&a[0]), |x, y| x - y),
        ))
    });
    r.range("divf", 1, None, |a| {
        let mut acc = to_float64(&a[0]);
        for v in &a[1..] {
            let d = to_float64(v);
            if d == 0.0 {
                return Err("decimal division by 0".into());
            }
            acc /= d;
        }
        Ok(Value::Float(acc))
    });
    r.range("mulf", 1, None, |a| {
        Ok(Value::Float(
            a[1..]
                .iter()
                .map(to_float64)
                .fold(to_float64(&a[0]), |x, y| x * y),
        ))
    });
    let max: fn(&[Value]) -> FuncResult =
        |a| Ok(Value::Int(a.iter().map(to_int64).max().unwrap_or(0)));
    r.range("biggest", 1, None, max);
    r.range("max", 1, None, max);
    r.range("min", 1, None, |a| {
        Ok(Value::Int(a.iter().map(to_int64).min().unwrap_or(0)))
    });
    r.range("maxf", 1, None, |a| {
        Ok(Value::Float(
            a.iter().map(to_float64).fold(f64::NEG_INFINITY, f64::max),
        ))
    });
    r.range("minf", 1, None, |a| {
        Ok(Value::Float(
            a.iter().map(to_float64).fold(f64::INFINITY, f64::min),
        ))
    });
    r.fixed("ceil", 1, |a| Ok(Value::Float(to_float64(&a[0]).ceil())));
    r.fixed("floor", 1, |a| Ok(Value::Float(to_float64(&a[0]).floor())));
    r.range("round", 2, Some(3), |a| {
        let round_on = a.get(2).map(to_float64).unwrap_or(0.5);
        let pow = 10f64.powf(to_float64(&a[1]));
        let digit = pow * to_float64(&a[0]);
        let frac = digit.fract();
        let rounded = if frac >= round_on {
            digit.ceil()
        } else {
            digit.floor()
        };
        Ok(Value::Float(rounded / pow))
    });
}

fn ints(v: Vec<i64>) -> FuncResult {
    Ok(Value::list(v.into_iter().map(Value::Int).collect()))
}

/// sprig `untilStep`.
fn until_step(start: i64, stop: i64, step: i64) -> Result<Vec<i64>, String> {
    let mut v = Vec::new();
    let mut i = start;
    if stop < start {
        if step >= 0 {
            return Ok(v);
        }
        while i > stop {
            v.push(i);
            i += step;
            if v.len() > MAX_SEQUENCE {
                return Err(format!("sequence longer than {MAX_SEQUENCE} elements"));
            }
        }
        return Ok(v);
    }
    if step <= 0 {
        return Ok(v);
    }
    while i < stop {
        v.push(i);
        i = i.saturating_add(step);
        if v.len() > MAX_SEQUENCE {
            return Err(format!("sequence longer than {MAX_SEQUENCE} elements"));
        }
    }
    Ok(v)
}

/// sprig `seq`, bash-like.
fn seq(a: &[Value]) -> FuncResult {
    let p: Vec<i64> = (0..a.len()).map(|i| int(a, i)).collect::<Result<_, _>>()?;
    let list = match p.as_slice() {
        [end] => {
            let inc = if *end < 1 { -1 } else { 1 };
            until_step(1, end + inc, inc)?
        }
        [start, end] => {
            let step = if end < start { -1 } else { 1 };
            until_step(*start, end + step, step)?
        }
        [start, step, end] => {
            let mut inc = 1;
            if end < start {
                inc = -1;
                if *step > 0 {
                    return Ok(Value::str(""));
                }
            }
            until_step(*start, end + inc, *step)?
        }
        _ => Vec::new(),
    };
    let parts: Vec<String> = list.iter().map(i64::to_string).collect();
    Ok(Value::str(parts.join(" ")))
}
