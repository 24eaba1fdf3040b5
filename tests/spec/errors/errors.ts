// Misuse that the contract says is a clear error when the definition is
// loaded. Where TypeScript would already refuse the code, `untyped` steps
// around it to reach the run-time check (tests/spec/types.test-d.ts holds the
// compile-time side).

import { codelistFromCsv, createDataset, days, eventTable, maximumOf, months, patientTable, when } from "../../../src/language/index.js";
import { type ErrorCase, codelistPath, datasetWith, e, f, p, untyped } from "../harness.js";

const DIFFERENT_FRAMES = /different/i;

export const errors: ErrorCase[] = [
  // ---- literals and types ----------------------------------------------------
  { name: "an int series with a non-integer literal", build: () => p.i1.add(1.5), message: /1\.5/ },
  { name: "an int comparison with a non-integer literal", build: () => p.i1.eq(2.5), message: /2\.5/ },
  { name: "an int isIn with a non-integer value", build: () => p.i1.isIn([1, 1.5]), message: /1\.5/ },
  { name: "an int whenNullThen with a non-integer literal", build: () => p.i1.whenNullThen(0.5), message: /0\.5/ },
  { name: "int and float mixed without a cast", build: () => untyped(p.i1).add(p.f1), message: /float|int/ },
  { name: "float and int mixed without a cast", build: () => untyped(p.f1).mul(p.i1), message: /float|int/ },
  { name: "a date compared with an int", build: () => untyped(p.d1).lt(5), message: /date/i },
  { name: "a date compared with an int series", build: () => untyped(p.d1).eq(p.i1), message: /date|int/i },
  { name: "a str compared with a number", build: () => untyped(p.s1).eq(3), message: /str|3/i },
  { name: "a bool and-ed with an int", build: () => untyped(p.b1).and(p.i1), message: /bool|int/i },
  { name: "an int isIn with a string", build: () => untyped(p.i1).isIn(["a"]), message: /"a"|integer|int/i },
  { name: "isIn a patient series", build: () => untyped(p.i1).isIn(p.i2), message: /patient|one value/i },
  { name: "isIn an event series of another type", build: () => untyped(p.i1).isIn(e.s1), message: /str|int|type/i },
  { name: "mapValues with a key that is not a number for an int series", build: () => p.i1.mapValues({ abc: "x" }), message: /abc/ },
  { name: "a case mixing value types", build: () => untyped(when(p.b1).then(1)).otherwise("x"), message: /type|int|str/i },
  { name: "a case whose every value is null", build: () => untyped(when(p.b1).then(null)).otherwise(null), message: /null/i },
  { name: "a case with a non-bool condition", build: () => when(untyped(p.i1)).then(1).otherwise(2), message: /bool/i },
  { name: "maximumOf values of different types", build: () => maximumOf(p.i1, untyped(p.d1)), message: /date|int|type/i },
  { name: "maximumOf one value", build: () => untyped(maximumOf)(p.i1), message: /two|least/i },
  { name: "days() of a fraction", build: () => days(1.5), message: /1\.5/ },
  { name: "a date plus a number instead of a duration", build: () => untyped(p.d1).add(5), message: /duration|days/i },
  { name: "countEpisodesForPatient with a gap in months", build: () => e.d1.countEpisodesForPatient(untyped(months(1))), message: /days|weeks/i },

  // ---- aggregation ---------------------------------------------------------------
  { name: "sumForPatient on a str series", build: () => untyped(e.s1).sumForPatient(), message: /sumForPatient|str/ },
  { name: "meanForPatient on a date series", build: () => untyped(e.d1).meanForPatient(), message: /meanForPatient|date/ },
  { name: "sumForPatient on a patient series", build: () => untyped(p.i1).sumForPatient(), message: /per patient|many-rows|patient/i },
  { name: "an aggregate of a patient series", build: () => untyped(p.i1).countForPatient(), message: /per patient|many-rows|patient|countForPatient/i },

  // ---- domains ----------------------------------------------------------------------
  { name: "series from two event tables", build: () => untyped(e.i1).add(f.i1), message: DIFFERENT_FRAMES },
  { name: "series from differently filtered frames of one table", build: () => e.where(e.b1).i1.add(e.i1), message: DIFFERENT_FRAMES },
  { name: "series from two different filters of one table", build: () => e.where(e.b1).i1.add(e.where(e.b2).i1), message: DIFFERENT_FRAMES },
  { name: "a where condition from another table", build: () => e.where(f.b1), message: DIFFERENT_FRAMES },
  { name: "a where condition from a differently filtered frame", build: () => e.where(e.b1).where(e.where(e.b2).b1), message: DIFFERENT_FRAMES },
  { name: "a case combining two event tables", build: () => when(e.b1).then(e.i1).otherwise(untyped(f.i1)), message: DIFFERENT_FRAMES },
  { name: "a date difference across two event tables", build: () => e.d1.sub(untyped(f.d1)), message: DIFFERENT_FRAMES },
  { name: "sortBy a patient series", build: () => e.sortBy(p.i1), message: /patient|one value/i },
  { name: "sortBy a column of another table", build: () => e.sortBy(f.i1), message: DIFFERENT_FRAMES },
  { name: "firstForPatient before sortBy", build: () => untyped(e).firstForPatient(), message: /firstForPatient|sort/i },
  { name: "where with a non-bool condition", build: () => e.where(untyped(e.i1)), message: /bool/i },

  // ---- the dataset ----------------------------------------------------------------
  { name: "an event series as a dataset column", build: () => datasetWith(() => untyped(e.i1)), message: /per patient|many values/i },
  { name: "an event frame as a dataset column", build: () => datasetWith(() => untyped(e)), message: /series/i },
  { name: "a duration as a dataset column", build: () => datasetWith(() => untyped(days(1))), message: /series/i },
  {
    name: "a column name used twice",
    build: () => {
      const ds = createDataset();
      ds.addColumn("x", p.i1);
      ds.addColumn("x", p.i2);
    },
    message: /x/,
  },
  {
    name: "a reserved column name",
    build: () => createDataset().addColumn("patient_id", p.i1),
    message: /patient_id/,
  },
  {
    name: "a column name that is not an identifier",
    build: () => createDataset().addColumn("1st", p.i1),
    message: /1st/,
  },
  { name: "an unknown column of a table", build: () => datasetWith(() => untyped(p).nosuch.isNull()), message: /nosuch/ },

  // ---- codes and codelists ----------------------------------------------------------
  { name: "an invalid SNOMED CT code", build: () => p.c1.eq("abc"), message: /abc/ },
  { name: "an invalid code in isIn", build: () => p.c1.isIn(["123456", "12ab"]), message: /12ab/ },
  { name: "an invalid code in a codelist file, with its file and line", build: () => p.c1.isIn(codelistFromCsv(codelistPath("bad_snomed.csv"), { column: "code" })), message: /bad_snomed\.csv, line 3: .*"12ab" is not a valid SNOMED CT code/ },
  { name: "an invalid CTV3 code", build: () => p.k1.eq("Xa1bcd"), message: /Xa1bcd/ },
  { name: "an invalid ICD-10 code for contains on a multi-code column", build: () => p.m1.contains("e11"), message: /e11/ },
  { name: "an invalid code in containsAnyOf", build: () => p.m1.containsAnyOf(["E11", "11E"]), message: /11E/ },
  { name: "a code of another system in toCategory", build: () => p.c1.toCategory({ E11: "diabetes" }), message: /E11/ },
  { name: "a codelist column that is not in the file", build: () => codelistFromCsv(codelistPath("snomed.csv"), { column: "snomed_code" }), message: /snomed_code/ },
  { name: "a codelist file that does not exist", build: () => codelistFromCsv(codelistPath("missing.csv"), { column: "code" }), message: /missing\.csv/ },
  { name: "a code compared with a str series", build: () => untyped(p.c1).eq(p.s1), message: /snomedct|str|code/i },
  { name: "codes of two systems compared", build: () => untyped(p.c1).eq(p.k1), message: /snomedct|ctv3|code/i },

  // ---- dates ---------------------------------------------------------------------------
  { name: "a date that does not exist", build: () => p.d1.isBefore("2021-02-29"), message: /2021-02-29/ },
  { name: "a date in another format", build: () => p.d1.eq("01/02/2020"), message: /01\/02\/2020/ },
  { name: "a date string where a date is needed in isDuring", build: () => p.d1.isDuring(["2020-01-01", "soon"]), message: /soon/ },
  { name: "a bad date in maximumOf", build: () => maximumOf(p.d1, "2020-13-01"), message: /2020-13-01|str|date/ },

  // ---- tables --------------------------------------------------------------------------
  { name: "a table with an unknown column type", build: () => patientTable("x", untyped({ a: "integer" })), message: /integer/ },
  { name: "an event table column named like a frame method", build: () => eventTable("y", { where: "int" }), message: /where/ },
];
