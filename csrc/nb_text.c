/* nb_text.c -- the multi-column text tables of the suite's programs (nonBragg's -stol and
   -sourcefile), read with the C library's own atof, line by line as fgets gives them.

   A line is at most FGETS_CHARS characters (a longer one continues as the next line) and, as a
   C string, ends at a NUL byte.  A line of delimiters only (and its newline) is skipped.  Each
   value is atof of the text from the current position; the position then skips the characters
   a number may hold, the rest of the token and the delimiters.  A line ends at a bare newline
   or once every column has a value; a line that runs out of text before its newline (no final
   newline, or "\r\n") reads 0 for the columns left.  Columns a line never reaches stay NaN. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "nb_text.h"

#define FGETS_CHARS 10239
static const char DELIMITERS[] = " \t,;:!";
static const char NUMBER_CHARS[] = "0123456789-+.EGeg";

static long next_line(const char *data, long size, long pos, char *line)
{
    long end = pos;
    while (end < size && end - pos < FGETS_CHARS && data[end] != '\n') ++end;
    if (end < size && end - pos < FGETS_CHARS) ++end;        /* keep the newline */
    memcpy(line, data + pos, end - pos);
    line[end - pos] = '\0';
    return end;
}

static void parse_line(const char *text, int ncols, double *row)
{
    const char *token = text + strspn(text, DELIMITERS);
    int column = 0;
    do {
        row[column] = atof(token);
        token += strspn(token, NUMBER_CHARS);
        if (strcmp(token, "\n") == 0) break;
        token += strcspn(token, DELIMITERS);
        token += strspn(token, DELIMITERS);
        if (strcmp(token, "\n") == 0) break;
        ++column;
    } while (column < ncols);
}

long nb_read_columns(const char *data, long size, int ncols, double *out)
{
    char line[FGETS_CHARS + 1];
    long pos = 0, rows = 0;
    while (pos < size) {
        pos = next_line(data, size, pos, line);
        const char *rest = line + strspn(line, DELIMITERS);
        if (strcmp(rest, "\n") == 0) continue;
        if (out) {
            double *row = out + rows * ncols;
            int c;
            for (c = 0; c < ncols; ++c) row[c] = NAN;
            parse_line(line, ncols, row);
        }
        ++rows;
    }
    return rows;
}
