//! A minimal partial-state-update engine in the cadCAD style — policies whose signals are summed, then
//! state updates, block after block, each substep's state recorded — used to run radCAD's benchmark
//! model and a simplified royalty split side by side with radCAD itself (`scripts/radcad-bench.sh`).

/// One partial state update block: policies (their signals summed) and the update they feed.
pub struct Block<S, P> {
    pub policies: Vec<fn(&P, &S) -> f64>,
    pub update: fn(&P, &S, f64) -> S,
}

/// One recorded substep, as radCAD records it.
#[derive(Clone, Debug, PartialEq)]
pub struct Record<S> {
    pub subset: usize,
    pub run: usize,
    pub timestep: usize,
    pub substep: usize,
    pub state: S,
}

/// Runs every parameter subset `runs` times for `timesteps`, recording every substep.
pub fn simulate<S: Clone, P>(
    initial: &S,
    blocks: &[Block<S, P>],
    subsets: &[P],
    timesteps: usize,
    runs: usize,
) -> Vec<Record<S>> {
    let mut out = Vec::with_capacity(subsets.len() * runs * (timesteps * blocks.len() + 1));
    for (subset, params) in subsets.iter().enumerate() {
        for run in 0..runs {
            let mut state = initial.clone();
            out.push(Record {
                subset,
                run,
                timestep: 0,
                substep: 0,
                state: state.clone(),
            });
            for timestep in 1..=timesteps {
                for (b, block) in blocks.iter().enumerate() {
                    let signal: f64 = block.policies.iter().map(|p| p(params, &state)).sum();
                    state = (block.update)(params, &state, signal);
                    out.push(Record {
                        subset,
                        run,
                        timestep,
                        substep: b + 1,
                        state: state.clone(),
                    });
                }
            }
        }
    }
    out
}

/// radCAD's benchmark model: `a ← a·|cos a|`, then five unit policies driving `b ← b + Σ·param`,
/// over two parameter subsets.
pub mod benchmark_model {
    use super::Block;

    #[derive(Clone, Debug, PartialEq)]
    pub struct State {
        pub a: f64,
        pub b: f64,
    }

    fn unit(_: &f64, _: &State) -> f64 {
        1.0
    }

    fn update_a(_: &f64, s: &State, _: f64) -> State {
        State {
            a: s.a * s.a.cos().abs(),
            b: s.b,
        }
    }

    fn update_b(param: &f64, s: &State, steps: f64) -> State {
        State {
            a: s.a,
            b: s.b + steps * param,
        }
    }

    pub fn blocks() -> Vec<Block<State, f64>> {
        vec![
            Block {
                policies: vec![],
                update: update_a,
            },
            Block {
                policies: vec![unit, unit, unit, unit, unit],
                update: update_b,
            },
        ]
    }

    pub const INITIAL: State = State { a: 1.0, b: 2.0 };
    pub const SUBSETS: [f64; 2] = [1.0, 2.0];
}

/// A simplified royalty split: each timestep one receipt of a varying amount is split exactly, by
/// cumulative crediting, between hosts, model owners, data owners and the treasury.
pub mod royalty_model {
    use super::Block;

    #[derive(Clone, Debug, PartialEq)]
    pub struct State {
        pub timestep: u64,
        pub settled: u64,
        /// Hosts, model owners, data owners, treasury.
        pub credited: [u64; 4],
    }

    pub type Split = [u64; 4];

    fn receipt(_: &Split, s: &State) -> f64 {
        (1_000 + (s.timestep * 7_919) % 5_000) as f64
    }

    fn settle(split: &Split, s: &State, amount: f64) -> State {
        let settled = s.settled + amount as u64;
        let mut credited = [0u64; 4];
        for (i, bps) in split.iter().enumerate() {
            credited[i] = settled * bps / 10_000;
        }
        State {
            timestep: s.timestep + 1,
            settled,
            credited,
        }
    }

    pub fn blocks() -> Vec<Block<State, Split>> {
        vec![Block {
            policies: vec![receipt],
            update: settle,
        }]
    }

    pub const INITIAL: State = State {
        timestep: 0,
        settled: 0,
        credited: [0; 4],
    };
    pub const SUBSETS: [Split; 1] = [[3_000, 5_000, 1_000, 1_000]];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_benchmark_model_records_every_substep() {
        let records = simulate(
            &benchmark_model::INITIAL,
            &benchmark_model::blocks(),
            &benchmark_model::SUBSETS,
            10,
            2,
        );
        assert_eq!(records.len(), 2 * 2 * (10 * 2 + 1));
        // b grows by 5 × the parameter per timestep.
        let last = records.last().unwrap();
        assert_eq!(last.state.b, 2.0 + 10.0 * 5.0 * 2.0);
    }

    #[test]
    fn the_royalty_model_credits_exactly() {
        let records = simulate(
            &royalty_model::INITIAL,
            &royalty_model::blocks(),
            &royalty_model::SUBSETS,
            1_000,
            1,
        );
        let s = &records.last().unwrap().state;
        let credited: u64 = s.credited.iter().sum();
        assert!(s.settled - credited < 4, "fractions only");
    }
}
