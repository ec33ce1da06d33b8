//! Evaluating pipelines, commands, fields, functions and arguments.

use super::*;

impl<'a> Exec<'a> {
    pub(super) fn set_var(&mut self, name: &str, value: Value) {
        if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
            slot.1 = value;
        }
    }

    pub(super) fn var(&self, pos: usize, name: &str) -> ExecResult<Value> {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| self.error(pos, name, format!("undefined variable: {name}")))
    }

    pub(super) fn eval_pipeline(&mut self, dot: &Value, pipe: &Pipeline) -> ExecResult<Value> {
        let mut value: Option<Value> = None;
        for cmd in &pipe.cmds {
            value = Some(self.eval_command(dot, cmd, value)?);
        }
        let value = value.unwrap_or_default();
        for name in &pipe.decl {
            if pipe.is_assign {
                self.set_var(name, value.clone());
            } else {
                self.vars.push((name.clone(), value.clone()));
            }
        }
        Ok(value)
    }

    pub(super) fn not_a_function(
        &self,
        cmd: &Command,
        final_value: &Option<Value>,
    ) -> ExecResult<()> {
        if cmd.args.len() > 1 || final_value.is_some() {
            return Err(self.error(
                cmd.pos,
                &cmd.args[0],
                format!("can't give argument to non-function {}", cmd.args[0]),
            ));
        }
        Ok(())
    }

    pub(super) fn eval_command(
        &mut self,
        dot: &Value,
        cmd: &Command,
        final_value: Option<Value>,
    ) -> ExecResult<Value> {
        let first = &cmd.args[0];
        match first {
            Arg::Field(pos, fields) => {
                self.eval_field_chain(dot.clone(), *pos, first, fields, cmd, &final_value)
            }
            Arg::Variable(pos, name, fields) => {
                let value = self.var(*pos, name)?;
                if fields.is_empty() {
                    self.not_a_function(cmd, &final_value)?;
                    return Ok(value);
                }
                self.eval_field_chain(value, *pos, first, fields, cmd, &final_value)
            }
            Arg::Pipe(pos, pipe, fields) => {
                self.not_a_function(cmd, &final_value)?;
                let value = self.eval_pipeline(dot, pipe)?;
                if fields.is_empty() {
                    return Ok(value);
                }
                self.eval_field_chain(value, *pos, first, fields, cmd, &final_value)
            }
            Arg::Ident(pos, name) => {
                self.eval_function(dot, *pos, name, &cmd.args[1..], final_value)
            }
            Arg::Nil(pos) => Err(self.error(*pos, "nil", "nil is not a command")),
            Arg::Dot(_) | Arg::Bool(..) | Arg::Number(..) | Arg::Str(..) => {
                self.not_a_function(cmd, &final_value)?;
                self.eval_arg(dot, first)
            }
        }
    }

    pub(super) fn eval_field_chain(
        &mut self,
        mut receiver: Value,
        pos: usize,
        node: &Arg,
        fields: &[String],
        cmd: &Command,
        final_value: &Option<Value>,
    ) -> ExecResult<Value> {
        for (i, field) in fields.iter().enumerate() {
            let last = i + 1 == fields.len();
            let has_args = last && (cmd.args.len() > 1 || final_value.is_some());
            receiver = self.eval_field(receiver, pos, node, field, has_args)?;
        }
        Ok(receiver)
    }

    pub(super) fn eval_field(
        &self,
        receiver: Value,
        pos: usize,
        node: &Arg,
        field: &str,
        has_args: bool,
    ) -> ExecResult<Value> {
        match receiver {
            Value::Map(map) => {
                if has_args {
                    return Err(self.error(
                        pos,
                        node,
                        format!("{field} is not a method but has arguments"),
                    ));
                }
                let map = map.borrow();
                match map.entries.get(field) {
                    Some(v) => Ok(v.clone()),
                    None => {
                        Err(self.error(pos, node, format!("map has no entry for key {field:?}")))
                    }
                }
            }
            Value::Nil => {
                Err(self.error(pos, node, format!("nil data; no entry for key {field:?}")))
            }
            other => Err(self.error(
                pos,
                node,
                format!("can't evaluate field {field} in type {}", other.type_name()),
            )),
        }
    }

    pub(super) fn eval_function(
        &mut self,
        dot: &Value,
        pos: usize,
        name: &str,
        args: &[Arg],
        final_value: Option<Value>,
    ) -> ExecResult<Value> {
        let Some(spec) = self.funcs.get(name) else {
            return Err(self.error(pos, name, format!("{name:?} is not a defined function")));
        };
        let given = args.len() + usize::from(final_value.is_some());
        let arity_ok = given >= spec.min && spec.max.is_none_or(|max| given <= max);
        if !arity_ok {
            let want = match spec.max {
                Some(max) if max == spec.min => format!("{max}"),
                Some(max) => format!("{}..{max}", spec.min),
                None => format!("at least {}", spec.min),
            };
            return Err(self.error(
                pos,
                name,
                format!("wrong number of args for {name}: want {want} got {given}"),
            ));
        }
        if name == "and" || name == "or" {
            let want_truth = name == "or";
            let mut value = Value::Nil;
            for arg in args {
                value = self.eval_arg(dot, arg)?;
                if value.is_true() == want_truth {
                    return Ok(value);
                }
            }
            return Ok(final_value.unwrap_or(value));
        }
        let mut values = Vec::with_capacity(given);
        for arg in args {
            values.push(self.eval_arg(dot, arg)?);
        }
        if let Some(f) = final_value {
            values.push(f);
        }
        (spec.call)(&values)
            .map_err(|e| self.error(pos, name, format!("error calling {name}: {e}")))
    }

    pub(super) fn eval_arg(&mut self, dot: &Value, arg: &Arg) -> ExecResult<Value> {
        match arg {
            Arg::Dot(_) => Ok(dot.clone()),
            Arg::Nil(_) => Ok(Value::Nil),
            Arg::Bool(_, b) => Ok(Value::Bool(*b)),
            Arg::Number(_, Number::Int(i), _) => Ok(Value::Int(*i)),
            Arg::Number(_, Number::Float(f), _) => Ok(Value::Float(*f)),
            Arg::Str(_, s) => Ok(Value::str(s)),
            Arg::Field(pos, fields) => {
                let mut v = dot.clone();
                for field in fields {
                    v = self.eval_field(v, *pos, arg, field, false)?;
                }
                Ok(v)
            }
            Arg::Variable(pos, name, fields) => {
                let mut v = self.var(*pos, name)?;
                for field in fields {
                    v = self.eval_field(v, *pos, arg, field, false)?;
                }
                Ok(v)
            }
            Arg::Pipe(pos, pipe, fields) => {
                let mut v = self.eval_pipeline(dot, pipe)?;
                for field in fields {
                    v = self.eval_field(v, *pos, arg, field, false)?;
                }
                Ok(v)
            }
            Arg::Ident(pos, name) => self.eval_function(dot, *pos, name, &[], None),
        }
    }
}
