//! Small pure helpers shared by command families: Redis's glob matching, number parsing and formatting,
//! and the LCS algorithm.

pub mod glob;
pub mod lcs;
pub mod numbers;
