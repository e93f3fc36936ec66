//! Randomness, supplied by the host: the seam every key, nonce and identifier draws from.

use core::fmt;

/// A source of cryptographically secure random bytes, supplied by the host
/// (the OS RNG natively, `crypto.getRandomValues` at the edge).
pub trait Entropy {
    /// Fill `dest` entirely with random bytes.
    fn fill(&self, dest: &mut [u8]) -> Result<(), EntropyError>;
}

impl<T: Entropy + ?Sized> Entropy for &T {
    fn fill(&self, dest: &mut [u8]) -> Result<(), EntropyError> {
        (**self).fill(dest)
    }
}

/// The host could not provide random bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntropyError;

impl fmt::Display for EntropyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the host's random number generator failed")
    }
}

impl core::error::Error for EntropyError {}

/// Adapts a host [`Entropy`] to the `rand_core` traits the RustCrypto crates take.
pub(crate) struct HostRng<'a>(pub(crate) &'a dyn Entropy);

impl rand_core::TryRng for HostRng<'_> {
    type Error = EntropyError;

    fn try_next_u32(&mut self) -> Result<u32, EntropyError> {
        let mut b = [0u8; 4];
        self.0.fill(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, EntropyError> {
        let mut b = [0u8; 8];
        self.0.fill(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), EntropyError> {
        self.0.fill(dst)
    }
}

impl rand_core::TryCryptoRng for HostRng<'_> {}

/// Test entropy: a deterministic byte sequence (not random; for unit tests only).
#[cfg(test)]
pub(crate) struct CountingEntropy(pub(crate) core::cell::Cell<u8>, pub(crate) u8);

#[cfg(test)]
impl Entropy for CountingEntropy {
    fn fill(&self, dest: &mut [u8]) -> Result<(), EntropyError> {
        for b in dest {
            self.0.set(self.0.get().wrapping_add(self.1));
            *b = self.0.get();
        }
        Ok(())
    }
}

/// Fill a fresh array with random bytes from the host.
pub(crate) fn random<const N: usize>(entropy: &dyn Entropy) -> Result<[u8; N], EntropyError> {
    let mut out = [0u8; N];
    entropy.fill(&mut out)?;
    Ok(out)
}
