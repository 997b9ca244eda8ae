//! A small seeded generator (SplitMix64): the same seed gives the same trace, everywhere
//! (natively and in the browser).

#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
    /// While a simulation walks a connection for real (`session::replay_paths`): draws already
    /// made, handed out first, and the chances taken, recorded.
    tape: Option<Tape>,
}

#[derive(Clone, Debug, Default)]
pub struct Tape {
    replay: Vec<f64>,
    replayed: usize,
    /// Each chance taken: its probability and whether the draw fell below it.
    pub chances: Vec<(f64, bool)>,
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng {
            state: seed,
            tape: None,
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A chance of `probability` (iptables' `-m statistic --mode random`): the draw, and whether
    /// it fell below. This is the one comparison a replayed walk must repeat exactly.
    pub fn chance(&mut self, probability: f64) -> (f64, bool) {
        let replayed = self.tape.as_mut().and_then(|t| {
            let draw = t.replay.get(t.replayed).copied();
            t.replayed += usize::from(draw.is_some());
            draw
        });
        let draw = replayed.unwrap_or_else(|| self.next_f64());
        let below = draw < probability;
        if let Some(t) = &mut self.tape {
            t.chances.push((probability, below));
        }
        (draw, below)
    }

    /// From now on, chances hand out `replay` first and are recorded.
    pub fn start_tape(&mut self, replay: Vec<f64>) {
        self.tape = Some(Tape {
            replay,
            ..Default::default()
        });
    }

    pub fn stop_tape(&mut self) -> Tape {
        self.tape.take().unwrap_or_default()
    }
}
