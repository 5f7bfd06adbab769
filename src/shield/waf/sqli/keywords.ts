/**
 * SQL word classes for the SQLi tokenizer (libinjection-style token types, our own word list).
 * A word not listed is a bareword 'n'. Multi-word phrases ("UNION ALL", "ORDER BY", "WAITFOR DELAY")
 * are what the folder merges two adjacent words into when the pair is listed here.
 *
 * Token types (one character each, as libinjection names them, so fingerprints read alike):
 *   s string  1 number  n bareword  v variable  k keyword  E statement/expression start
 *   U set operator (UNION...)  B group/order/limit  f function  t SQL type  o operator
 *   & logic operator  c comment  ( ) , ; . : { }  A collate  T T-SQL control  \ backslash
 *   X evil (unparseable: MySQL versioned comment, nested comment)
 */

export type TokenType =
  | 's' | '1' | 'n' | 'v' | 'k' | 'E' | 'U' | 'B' | 'f' | 't' | 'o' | '&' | 'c'
  | '(' | ')' | ',' | ';' | '.' | ':' | '{' | '}' | 'A' | 'T' | '\\' | 'X' | '?';

const WORDS = new Map<string, TokenType>();
/** Longest listed word: longer ones are barewords without a lookup. */
let longest = 0;

function add(type: TokenType, list: string): void {
  for (const w of list.trim().split(/\s+/)) {
    WORDS.set(w, type);
    if (w.length > longest) longest = w.length;
  }
}

// Statement starters: what follows a stacked-query ';' or a UNION.
add('E', `CASE SELECT INSERT UPDATE DELETE DROP CREATE ALTER TRUNCATE EXEC EXECUTE DECLARE SHUTDOWN
  RENAME GRANT REVOKE MERGE CALL HANDLER LOAD DO PREPARE DEALLOCATE KILL RESTORE BACKUP`);
add('U', 'UNION EXCEPT INTERSECT MINUS');
add('B', 'LIMIT HAVING OFFSET');
add('&', 'AND OR XOR && ||');
add('o', `LIKE RLIKE REGEXP DIV MOD BETWEEN ESCAPE GLOB MATCH AGAINST SOUNDS NOT`);
add('1', 'TRUE FALSE NULL UNKNOWN CURRENT_USER CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP LOCALTIME LOCALTIMESTAMP SESSION_USER SYSTEM_USER');
add('k', `FROM WHERE INTO AS TABLE IS IN BY ON JOIN WHEN THEN ELSE END TOP DISTINCT ALL VALUES
  PROCEDURE ANALYSE OUTFILE DUMPFILE DELAY WAITFOR EXISTS INFILE 
  SET USING INNER OUTER CROSS NATURAL ASC DESC PROCESSLIST GOTO BEGIN COMMIT ROLLBACK
  RETURN RETURNS TRIGGER FUNCTION VIEW INDEX IDENTIFIED PRIVILEGES SHOW DESCRIBE
  EXPLAIN USE WITH RECURSIVE OVER PARTITION WINDOW ROWNUM FETCH FIRST NEXT ONLY`);
add('A', 'COLLATE');
add('t', `INT INTEGER BIGINT SMALLINT TINYINT VARCHAR NVARCHAR VARCHAR2 NCHAR TEXT BINARY VARBINARY
  SIGNED UNSIGNED DECIMAL NUMERIC FLOAT REAL DOUBLE DATETIME BOOLEAN BOOL BLOB CLOB`);
// Functions: the ones attacks use to exfiltrate, to delay, to encode and to raise errors.
add('f', `SLEEP BENCHMARK PG_SLEEP CHAR CHR CONCAT CONCAT_WS GROUP_CONCAT STRING_AGG LISTAGG ASCII
  ORD HEX UNHEX BIN CONV SUBSTRING SUBSTR SUBSTRING_INDEX MID LEFT RIGHT LENGTH LEN CHAR_LENGTH
  COUNT SUM MIN MAX AVG VERSION DATABASE SCHEMA USER USER_NAME SUSER_NAME SUSER_SNAME DB_NAME HOST_NAME
  LOAD_FILE EXTRACTVALUE UPDATEXML CAST CONVERT IF IIF IFNULL NULLIF COALESCE ISNULL NVL NVL2
  MD5 SHA SHA1 SHA2 RAND RANDOM FLOOR CEIL CEILING ROUND EXP POW POWER ABS LOWER UPPER LCASE UCASE
  REVERSE TRIM LTRIM RTRIM LPAD RPAD INSTR LOCATE POSITION REPLACE REPEAT SPACE STRCMP ELT MAKE_SET
  FIELD FIND_IN_SET NAME_CONST JSON_EXTRACT JSON_KEYS POLYGON MULTIPOINT GEOMETRYCOLLECTION
  LINESTRING MULTILINESTRING MULTIPOLYGON GTID_SUBSET EXISTS ROW XP_CMDSHELL SP_EXECUTESQL
  SP_PASSWORD SP_OACREATE OPENROWSET OPENQUERY OPENDATASOURCE UTL_INADDR UTL_HTTP
  DBMS_PIPE DBMS_LOCK CTXSYS TO_CHAR TO_NUMBER TO_DATE QUOTENAME SYSDATE NOW GETDATE
  CURRENT_SETTING PG_READ_FILE PG_LS_DIR LO_IMPORT QUERY_TO_XML XMLTYPE CHARINDEX PATINDEX
  DATALENGTH SQLITE_VERSION RANDOMBLOB ZEROBLOB LIKELIHOOD UNICODE SOUNDEX DIFFERENCE
  IS_SRVROLEMEMBER IS_MEMBER HAS_DBACCESS OBJECT_ID OBJECT_NAME COL_NAME FILE_NAME
  BIT_LENGTH OCT CRC32 COMPRESS UNCOMPRESS ENCODE DECODE AES_ENCRYPT AES_DECRYPT
  FROM_BASE64 TO_BASE64 INET_ATON INET_NTOA UUID CONNECTION_ID LAST_INSERT_ID ROW_COUNT
  FOUND_ROWS CURDATE CURTIME UTC_DATE DATE_FORMAT STR_TO_DATE SUBDATE ADDDATE GET_LOCK
  RELEASE_LOCK MASTER_POS_WAIT ST_LATFROMGEOHASH ST_LONGFROMGEOHASH ST_POINTFROMGEOHASH`);

/** Pairs the folder merges into one token ("UNION" + "ALL" -> "UNION ALL" of type U). */
const PHRASES: Record<string, TokenType> = {
  'UNION ALL': 'U', 'UNION DISTINCT': 'U', 'EXCEPT ALL': 'U', 'INTERSECT ALL': 'U',
  'ORDER BY': 'B', 'GROUP BY': 'B', 'PARTITION BY': 'B',
  'WAITFOR DELAY': 'k', 'WAITFOR TIME': 'k', 'INTO OUTFILE': 'k', 'INTO DUMPFILE': 'k',
  'NOT LIKE': 'o', 'NOT IN': 'k', 'NOT BETWEEN': 'o', 'NOT REGEXP': 'o', 'NOT RLIKE': 'o',
  'IS NOT': 'o', 'SOUNDS LIKE': 'o', 'SELECT ALL': 'E', 'SELECT DISTINCT': 'E', 'SELECT TOP': 'E',
  'DROP TABLE': 'E', 'DROP DATABASE': 'E', 'CREATE TABLE': 'E', 'INSERT INTO': 'E',
  'DELETE FROM': 'E', 'LOAD DATA': 'E', 'TRUNCATE TABLE': 'E', 'ALTER TABLE': 'E',
  'SELECT INTO': 'E', 'CROSS JOIN': 'k', 'LEFT JOIN': 'k', 'INNER JOIN': 'k',
  'IN BOOLEAN': 'k', 'BOOLEAN MODE': 'k', 'CHARACTER SET': 'k',
};

const PHRASE_HEADS = new Set(Object.keys(PHRASES).map((p) => p.slice(0, p.indexOf(' '))));

/** The word class of `upper` (already upper-cased), or undefined for a plain bareword. */
export function wordType(upper: string): TokenType | undefined {
  return upper.length > longest ? undefined : WORDS.get(upper);
}

/** The class of the phrase "A B", or undefined when the two words do not form one. */
export function phraseType(upperA: string, upperB: string): TokenType | undefined {
  if (!PHRASE_HEADS.has(upperA)) return undefined;
  return PHRASES[`${upperA} ${upperB}`];
}

/** Two-character operators (libinjection's operator table, minus the ones that are comments). */
export const OPERATORS2 = new Set([
  '!=', '<>', '<=', '>=', '==', '<<', '>>', ':=', '::', '||', '&&', '!<', '!>', '->', '^=', '|=',
  '&=', '+=', '-=', '*=', '/=', '%=', '!!', '<@', '@>', '~*', '!~', '?|', '?&',
]);
