/* nb_words.h -- noisify's ADU words, as x86-64 converts (not a cffi header: it holds code;
   nb_noise.c and nb_psf.c share it). */
#ifndef NB_WORDS_H
#define NB_WORDS_H

/* x86-64's conversions of an out-of-range double: the 64-bit (for 32-bit words) or 32-bit
   (for 16-bit words) truncation gives the "integer indefinite" value, whose low bits are 0 */
static inline unsigned int word32(double adu)
{
    if (!(adu >= -9223372036854775808.0 && adu < 9223372036854775808.0)) return 0u;
    return (unsigned int)(long long)adu;
}

static inline unsigned short word16(double adu)
{
    if (!(adu > -2147483649.0 && adu < 2147483648.0)) return 0u;
    return (unsigned short)(unsigned int)(int)adu;
}

/* one noisy pixel's words; returns 1 when it overloads a word of `bits` */
static inline int noisy_words(double adu, int bits, unsigned short *out16, unsigned int *out32)
{
    int over = 0;
    if (adu > 2147483647.0) {
        adu = 2147483647.0;
        over = bits == 32;
    }
    *out32 = word32(adu);
    if (adu > 65535.0) {
        adu = 65535.0;
        over |= bits == 16;
    }
    *out16 = word16(adu);
    return over;
}

#endif
