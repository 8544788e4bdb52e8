--[[
include.lua - the book's pandoc filter (pandoc 2.17, Lua 5.3).

It pulls the code shown in the chapters from the real sources at build
time, draws Graphviz figures, and turns links between chapter files into
links inside the one book. See book/README.md for the syntax; in short:

  ```{.c include="steps/01-blocking/server.c" snippet="accept-loop"}
  ```
  ```{.c include="steps/01-blocking/server.c"}
  ```
  ```{.diff diff="steps/01-blocking/server.c steps/02-fork/server.c"}
  ```
  ```{.dot alt="What the picture shows, in words"}
  digraph { door -> cook }
  ```

In the sources, a snippet is the lines between `// @snippet NAME` and
`// @end NAME` (`#` instead of `//` works too, for shell and make files).

Metadata read by the filter (pass with -M on the command line):
  pizzeria-root     the repository root; include paths are relative to it.
                    Default: two directories above this file.
  pizzeria-figures  where SVGs from dot blocks are written.
                    Default: <root>/book/out/figures. Images refer to them
                    as figures/NAME.svg, so put the directory that holds
                    figures/ on --resource-path.
  pizzeria-bench    where the benchmark's CSV and JSON files are, for
                    [text]{.measured ...} spans (see "Measured figures").
                    Default: <root>/book/figures/bench.
  pizzeria-measured those files as book/measured.py writes them for the
                    filter. Default: the filter runs book/measured.py.

Every problem with an include is an error(): pandoc stops and exits non-zero,
naming the chapter, the block, the file and the snippet.
]]

local stringify = pandoc.utils.stringify

local ROOT             -- absolute path of the repository root
local FIGURES          -- absolute path of the figures directory
local warned = {}

local function warn(msg)
  if not warned[msg] then
    warned[msg] = true
    io.stderr:write("[book] warning: ", msg, "\n")
  end
end

local function fail(msg)
  error("[book] " .. msg, 0)
end

local function absolute(path)
  if pandoc.path.is_absolute(path) then
    return pandoc.path.normalize(path)
  end
  return pandoc.path.normalize(
    pandoc.path.join({pandoc.system.get_working_directory(), path}))
end

-- Remove "dir/.." pairs, which pandoc.path.normalize keeps.
local function tidy(path)
  local parts = {}
  for part in path:gmatch("[^/]+") do
    if part == ".." and #parts > 0 and parts[#parts] ~= ".." then
      table.remove(parts)
    elseif part ~= "." then
      table.insert(parts, part)
    end
  end
  return (path:sub(1, 1) == "/" and "/" or "") .. table.concat(parts, "/")
end

-- The path as the reader should see it: relative to the repository root.
local function shown(path)
  local abs = tidy(absolute(path))
  if abs:sub(1, #ROOT + 1) == ROOT .. "/" then
    return abs:sub(#ROOT + 2)
  end
  return abs
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local text = f:read("a")
  f:close()
  return text
end

local function split_lines(text)
  local lines = {}
  for line in (text .. "\n"):gmatch("(.-)\r?\n") do
    table.insert(lines, line)
  end
  if lines[#lines] == "" then table.remove(lines) end -- the final newline
  return lines
end

--------------------------------------------------------------------------
-- Markers in the sources

-- A marker line: optional blanks, `//` or `#`, `@snippet NAME` or
-- `@end NAME`, nothing else. Returns kind, name (name nil: malformed).
local function marker(line)
  local kind, rest = line:match("^%s*//%s*@(%a+)(.*)$")
  if not kind then kind, rest = line:match("^%s*#%s*@(%a+)(.*)$") end
  if kind ~= "snippet" and kind ~= "end" then return nil end
  return kind, rest:match("^%s+([%w_%.%-]+)%s*$")
end

local parsed = {}  -- absolute path -> {lines=, is_marker=, regions=}

-- Reads and checks a source file once. Returns the parsed file, or nil and
-- a message.
local function source(path)
  local abs = tidy(absolute(pandoc.path.join({ROOT, path})))
  if parsed[abs] then return parsed[abs] end
  local text = read_file(abs)
  if not text then
    return nil, "file not found: " .. path .. " (looked for " .. abs .. ")"
  end
  local file = {lines = split_lines(text), is_marker = {}, regions = {}}
  local open, order = {}, {}
  for i, line in ipairs(file.lines) do
    local kind, name = marker(line)
    if kind then
      file.is_marker[i] = true
      if not name then
        return nil, string.format(
          "%s:%d: malformed marker %q (want `// @%s NAME`)",
          path, i, line, kind)
      end
      if kind == "snippet" then
        if open[name] or file.regions[name] then
          return nil, string.format(
            "%s:%d: duplicate snippet name '%s' (first at line %d)",
            path, i, name, open[name] or file.regions[name].marker)
        end
        open[name] = i
        table.insert(order, name)
      else
        if not open[name] then
          return nil, string.format(
            "%s:%d: `@end %s` without a `@snippet %s` before it",
            path, i, name, name)
        end
        file.regions[name] = {marker = open[name], from = open[name] + 1,
                              to = i - 1}
        open[name] = nil
      end
    end
  end
  for _, name in ipairs(order) do
    if open[name] then
      return nil, string.format(
        "%s:%d: snippet '%s' has no `// @end %s`", path, open[name], name, name)
    end
  end
  parsed[abs] = file
  return file
end

-- Lines from..to of a file, marker lines dropped.
local function code_lines(file, from, to)
  local out = {}
  for i = from, to do
    if not file.is_marker[i] then table.insert(out, file.lines[i]) end
  end
  return out
end

-- Remove the indentation all non-blank lines share.
local function dedent(lines)
  local common
  for _, line in ipairs(lines) do
    if line:match("%S") then
      local indent = line:match("^[ \t]*")
      if not common then
        common = indent
      else
        local n = 0
        while n < #common and n < #indent
              and common:sub(n + 1, n + 1) == indent:sub(n + 1, n + 1) do
          n = n + 1
        end
        common = common:sub(1, n)
      end
    end
  end
  local out = {}
  for i, line in ipairs(lines) do
    if line:match("%S") then
      out[i] = line:sub(#(common or "") + 1)
    else
      out[i] = ""
    end
  end
  return out
end

-- The code of a whole file (snippet nil) or of one snippet, as lines.
local function extract(path, snippet)
  local file, err = source(path)
  if not file then return nil, err end
  if not snippet then
    return code_lines(file, 1, #file.lines)
  end
  local region = file.regions[snippet]
  if not region then
    local names = {}
    for name in pairs(file.regions) do table.insert(names, name) end
    table.sort(names)
    return nil, string.format("no snippet '%s' in %s (it has: %s)",
      snippet, path, #names > 0 and table.concat(names, ", ") or "none")
  end
  return dedent(code_lines(file, region.from, region.to))
end

--------------------------------------------------------------------------
-- Code blocks

local function attr_string(el)
  local parts = {}
  for _, class in ipairs(el.classes) do table.insert(parts, "." .. class) end
  for k, v in pairs(el.attributes) do
    table.insert(parts, string.format('%s="%s"', k, v))
  end
  return "{" .. table.concat(parts, " ") .. "}"
end

-- Where a block is: "chapters/01-blocking.md:12: {.c include=...}". The
-- AST has no line numbers, so look for the fence line in the chapter text.
local function where(chapter, el, key)
  local line_no
  local value = key and el.attributes[key]
  local snippet = el.attributes.snippet
  local class = el.classes[1]
  if chapter.lines and (value or class) then
    local function matches(line)
      local info = line:match("^%s*```+%s*(.-)%s*$")
        or line:match("^%s*~~~+%s*(.-)%s*$")
      if not info or info == "" then return false end
      if value then
        return info:find(value, 1, true)
          and (not snippet or info:find('"' .. snippet .. '"', 1, true))
      end
      return info == class or info:find("%." .. class:gsub("%p", "%%%0") .. "%f[^%w_%-]")
    end
    for pass = 1, 2 do
      local start = pass == 1 and chapter.cursor + 1 or 1
      for i = start, #chapter.lines do
        if matches(chapter.lines[i]) then line_no = i; break end
      end
      if line_no then break end
    end
    if line_no then chapter.cursor = line_no end
  end
  return string.format("%s%s: code block %s", chapter.shown,
    line_no and (":" .. line_no) or "", attr_string(el))
end

local function caption(inlines)
  return pandoc.Div({pandoc.Plain(inlines)}, pandoc.Attr("", {"listing-path"}))
end

-- A listing too long to fit on a printed page is marked, so that the PDF
-- lets it run over pages with its label kept to its first lines (pdf.css)
-- rather than pushing it whole to the next page and leaving the label
-- behind alone.
local LONG_LISTING_LINES = 50

local function listing(cap, block)
  local classes = {"listing"}
  local _, lines = (block.text or ""):gsub("\n", "")
  if lines + 1 > LONG_LISTING_LINES then
    table.insert(classes, "long-listing")
  end
  return pandoc.Div({cap, block}, pandoc.Attr("", classes))
end

local function body_is_empty(el)
  return not el.text:match("%S")
end

local function clean_attributes(el)
  for _, k in ipairs({"include", "snippet", "diff", "alt", "caption"}) do
    el.attributes[k] = nil
  end
end

local function include_block(chapter, el)
  local path, snippet = el.attributes.include, el.attributes.snippet
  local here = where(chapter, el, "include")
  if not body_is_empty(el) then
    fail(here .. ": an include block must have an empty body; the code comes from " .. path)
  end
  if snippet == "" then fail(here .. ": empty snippet name") end
  local lines, err = extract(path, snippet)
  if not lines then fail(here .. ": " .. err) end
  el.text = table.concat(lines, "\n")
  clean_attributes(el)
  local inlines = {pandoc.Code(path)}
  if snippet then
    table.insert(inlines, pandoc.Space())
    table.insert(inlines, pandoc.Span({pandoc.Str("(" .. snippet .. ")")},
      pandoc.Attr("", {"snippet-name"})))
  end
  return listing(caption(inlines), el)
end

-- diff -u of two texts, labelled with their paths; "" when they are the
-- same, or nil and a message. context: lines of context (diff's default 3).
local function unified_diff(paths, texts, context)
  -- diff exits 1 when the files differ; pandoc.pipe calls that an error.
  return pandoc.system.with_temporary_directory("pizzeria-diff",
    function(dir)
      local files = {dir .. "/a", dir .. "/b"}
      for i = 1, 2 do
        local f = assert(io.open(files[i], "wb"))
        f:write(texts[i])
        f:close()
      end
      local ok, res = pcall(pandoc.pipe, "diff",
        {"-U", tostring(context or 3), "--label", paths[1], "--label", paths[2],
         files[1], files[2]}, "")
      if ok then return "" end                     -- exit 0: no differences
      if type(res) == "table" and res.error_code == 1 then return res.output end
      return nil, type(res) == "table" and ("exit " .. tostring(res.error_code))
        or tostring(res)
    end)
end

local function html_escape(text)
  return (text:gsub("[&<>]", {["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;"}))
end

-- The kind of a line of diff -u: its file header, a hunk's header, a line
-- removed, a line added, or context.
local function diff_line_kind(line)
  if line:match("^%-%-%- ") or line:match("^%+%+%+ ") then return "diff-file" end
  if line:match("^@@ ") then return "diff-hunk" end
  if line:match("^%-") then return "diff-del" end
  if line:match("^%+") then return "diff-add" end
  return "diff-ctx"
end

-- A diff for a page (HTML, the EPUB, and the PDF made from the HTML): a
-- line of its own for each line, so that the stylesheets can tint a whole
-- line, red for removed and green for added, with its sign kept in front
-- (and set in bold), so that a reader without colour still tells them
-- apart. Every other format gets the plain text as a diff code block.
local function diff_html(text)
  local out = {}
  for line in (text .. "\n"):gmatch("(.-)\n") do
    local kind = diff_line_kind(line)
    local body = html_escape(line)
    if kind == "diff-del" or kind == "diff-add" then
      body = '<span class="diff-sign">' .. body:sub(1, 1) .. "</span>" .. body:sub(2)
    end
    table.insert(out, '<span class="diff-line ' .. kind .. '">' .. body .. "</span>")
  end
  return pandoc.RawBlock("html", '<pre class="diff"><code>' ..
    table.concat(out, "\n") .. "</code></pre>")
end

local function for_a_page()
  return FORMAT:match("html") or FORMAT:match("epub")
end

-- "Changes from A to B (snippet)" above the diff of paths[1] and paths[2],
-- of one snippet of both or of the whole files. A snippet's diff shows the
-- whole snippet, its unchanged lines too: the reader sees the function as
-- it now is, with what changed marked in it.
local function diff_listing(here, paths, snippet)
  local texts = {}
  for i, p in ipairs(paths) do
    local lines, err = extract(p, snippet)
    if not lines then fail(here .. ": " .. err) end
    texts[i] = table.concat(lines, "\n") .. (#lines > 0 and "\n" or "")
  end
  local output, problem = unified_diff(paths, texts, snippet and 100000 or 3)
  if not output then fail(here .. ": diff failed: " .. tostring(problem)) end
  if output == "" then
    warn(here .. ": the two files are the same" ..
      (snippet and (" in snippet '" .. snippet .. "'") or ""))
    output = "(no differences)"
  end
  output = output:gsub("\n$", "")
  local block
  if for_a_page() then
    block = diff_html(output)
  else
    block = pandoc.CodeBlock(output, pandoc.Attr("", {"diff"}))
  end
  local inlines = {pandoc.Str("Changes"), pandoc.Space(), pandoc.Str("from"),
    pandoc.Space(), pandoc.Code(paths[1]), pandoc.Space(), pandoc.Str("to"),
    pandoc.Space(), pandoc.Code(paths[2])}
  if snippet then
    table.insert(inlines, pandoc.Space())
    table.insert(inlines, pandoc.Span({pandoc.Str("(" .. snippet .. ")")},
      pandoc.Attr("", {"snippet-name"})))
  end
  return pandoc.Div({caption(inlines), block}, pandoc.Attr("", {"listing", "diff-listing"}))
end

local function diff_block(chapter, el)
  local here = where(chapter, el, "diff")
  local paths = {}
  for p in el.attributes.diff:gmatch("%S+") do table.insert(paths, p) end
  if #paths ~= 2 then
    fail(here .. ": diff= wants two paths separated by a space")
  end
  if not body_is_empty(el) then
    fail(here .. ": a diff block must have an empty body")
  end
  if el.attributes.snippet == "" then fail(here .. ": empty snippet name") end
  return diff_listing(here, paths, el.attributes.snippet)
end

local function write_if_changed(path, content)
  if read_file(path) == content then return end
  local f = io.open(path, "wb")
  if not f then fail("cannot write " .. path) end
  f:write(content)
  f:close()
end

local function dot_block(chapter, el)
  local here = where(chapter, el, el.attributes.include and "include" or "alt")
  local alt = el.attributes.alt
  if not alt or not alt:match("%S") then
    fail(here .. ": a dot block needs alt=\"...\": the picture, in words")
  end
  local src = el.text
  if el.attributes.include then
    if not body_is_empty(el) then
      fail(here .. ": a dot block with include= must have an empty body")
    end
    local lines, err = extract(el.attributes.include, el.attributes.snippet)
    if not lines then fail(here .. ": " .. err) end
    src = table.concat(lines, "\n")
  end
  if not src:match("%S") then fail(here .. ": empty graph") end
  local ok, svg = pcall(pandoc.pipe, "dot", {"-Tsvg"}, src)
  if not ok then
    fail(here .. ": dot failed (see its message above)" ..
      (type(svg) == "table" and (", exit " .. tostring(svg.error_code)) or
       (": " .. tostring(svg))))
  end
  -- No DOCTYPE: nothing that reads the SVG should go looking for the DTD.
  svg = svg:gsub("<!DOCTYPE.->%s*", "", 1)
  local name = el.identifier ~= "" and el.identifier:gsub("[^%w_%-]", "-")
    or ("dot-" .. pandoc.utils.sha1(src):sub(1, 12))
  name = chapter.slug .. "-" .. name
  pandoc.pipe("mkdir", {"-p", FIGURES}, "")
  write_if_changed(FIGURES .. "/" .. name .. ".svg", svg)
  local image = pandoc.Image({pandoc.Str(alt)}, "figures/" .. name .. ".svg")
  local blocks = {pandoc.Plain({image})}
  if el.attributes.caption then
    table.insert(blocks, pandoc.Div({pandoc.Plain({pandoc.Str(el.attributes.caption)})},
      pandoc.Attr("", {"figure-caption"})))
  end
  return pandoc.Div(blocks, pandoc.Attr(el.identifier, {"figure"}))
end

local function drop_class(el, class)
  local kept = {}
  for _, c in ipairs(el.classes) do
    if c ~= class then table.insert(kept, c) end
  end
  el.classes = pandoc.List(kept)
  return el
end

--------------------------------------------------------------------------
-- The steps appendix: ```{.stepdiffs}``` becomes, for every
-- steps/NN-name/server.c in order, its size, what its diff against the
-- previous step adds and removes, and which functions are new, changed or
-- gone. Generated at each build from whatever steps exist.

-- The entries of a directory (pandoc 2.17 has no list_directory).
local BOOK_FILES      -- file name -> chapter, for every chapter of the book

local function list_directory(dir)
  local ok, out = pcall(pandoc.pipe, "ls", {"-1", dir}, "")
  if not ok then return {} end
  local names = {}
  for name in out:gmatch("[^\n]+") do table.insert(names, name) end
  table.sort(names)
  return names
end

local function step_dirs()
  local steps = {}
  for _, name in ipairs(list_directory(ROOT .. "/steps")) do
    if name:match("^%d%d%-") and read_file(ROOT .. "/steps/" .. name .. "/server.c") then
      table.insert(steps, name)
    end
  end
  return steps
end

-- Functions defined at the left margin: name -> body (marker lines out),
-- and the names in order.
local function c_functions(lines)
  local bodies, order, name, body = {}, {}, nil, nil
  for _, line in ipairs(lines) do
    if not name then
      local found = line:match("^[%a_][^;=]-([%a_][%w_]*)%(")
      if found and not line:match("^typedef") and not line:match(";%s*$") then
        name, body = found, {}
      end
    end
    if name then
      table.insert(body, line)
      if line == "}" then
        if not bodies[name] then table.insert(order, name) end
        bodies[name] = table.concat(body, "\n")
        name = nil
      end
    end
  end
  return bodies, order
end

-- "Step 05 - poll: one cook with a tablet..." -> the first sentence after
-- the dash, from the comment that opens server.c.
local function step_summary(lines)
  local words = {}
  for i = 1, math.min(#lines, 12) do
    local text = lines[i]:match("^%s*/?%*+%s?(.*)$")
    if not text then break end
    if text:match("^%s*$") and #words > 0 then break end
    if not text:match("^/") and text:match("%S") then table.insert(words, text) end
  end
  local summary = table.concat(words, " "):gsub("^Step %d+%s*[-:]%s*", "")
  return summary:match("^(.-%.)%s") or summary:match("^(.-%.)$") or summary
end

local function code_list(names)
  local inlines = {}
  for i, n in ipairs(names) do
    if i > 1 then
      table.insert(inlines, pandoc.Str(","))
      table.insert(inlines, pandoc.Space())
    end
    table.insert(inlines, pandoc.Code(n))
  end
  return inlines
end

local function count_changes(diff)
  local added, removed, n = 0, 0, 0
  for line in diff:gmatch("[^\n]*") do
    if line ~= "" then n = n + 1 end
    if line:match("^%+") and not line:match("^%+%+%+ ") then added = added + 1 end
    if line:match("^%-") and not line:match("^%-%-%- ") then removed = removed + 1 end
  end
  return added, removed, n
end

-- Inlines of plain text; "server.c" is set as code.
local function words(text)
  local out = {}
  for w in text:gmatch("%S+") do
    local rest = w:match("^server%.c(.*)$")
    if rest then
      table.insert(out, pandoc.Code("server.c"))
      if rest ~= "" then table.insert(out, pandoc.Str(rest)) end
    else
      table.insert(out, pandoc.Str(w))
    end
    table.insert(out, pandoc.Space())
  end
  table.remove(out)
  return out
end

local function stepdiffs_block(chapter, el)
  local here = where(chapter, el, nil)
  if not body_is_empty(el) then
    fail(here .. ": a stepdiffs block must have an empty body; it is generated")
  end
  local steps = step_dirs()
  if #steps == 0 then
    return pandoc.Para(words("(No steps yet: steps/NN-name/server.c.)"))
  end
  local chapter_of = {}                 -- "02" -> "02-fork.md", if in the book
  for file in pairs(BOOK_FILES or {}) do
    local nn = file:match("^(%d%d)%-.*%.md$")
    if nn and (not chapter_of[nn] or file < chapter_of[nn]) then chapter_of[nn] = file end
  end

  local rows, sections = {}, {}
  local previous
  for _, name in ipairs(steps) do
    local path = "steps/" .. name .. "/server.c"
    local file, err = source(path)
    if not file then fail(here .. ": " .. err) end
    local lines = code_lines(file, 1, #file.lines)
    local bodies, order = c_functions(lines)
    local blocks = {}
    local summary = step_summary(file.lines):gsub("^%l", string.upper)
    local about = words(summary)
    local nn = name:sub(1, 2)
    if chapter_of[nn] then
      table.insert(about, pandoc.Space())
      table.insert(about, pandoc.Link(words("(its chapter)"), chapter_of[nn]))
    end
    if previous and BOOK_FILES and BOOK_FILES["appendix-diffs.md"] then
      table.insert(about, pandoc.Space())
      table.insert(about, pandoc.Link(words("(its whole diff)"),
        "appendix-diffs.md#diff-" .. name))
    end
    table.insert(blocks, pandoc.Para(about))
    local row = {{pandoc.Plain({pandoc.Code(name)})},
                 {pandoc.Plain({pandoc.Str(tostring(#file.lines))})}}
    if not previous then
      table.insert(blocks, pandoc.Para(words(string.format(
        "The first kitchen: %d lines of server.c, %d functions:", #file.lines, #order))))
      table.insert(blocks, pandoc.Para(code_list(order)))
      for _ = 1, 3 do table.insert(row, {pandoc.Plain({pandoc.Str("–")})}) end
    else
      local text_of = function(l) return table.concat(l, "\n") .. (#l > 0 and "\n" or "") end
      local diff, problem = unified_diff({previous.path, path},
        {text_of(previous.lines), text_of(lines)})
      if not diff then fail(here .. ": diff failed: " .. tostring(problem)) end
      local added, removed, size = count_changes(diff)
      table.insert(blocks, pandoc.Para(words(string.format(
        "server.c: %d lines (%s: %d). Against %s, its diff is %d lines: " ..
        "%d added, %d removed.", #file.lines, previous.name, #previous.file.lines,
        previous.name, size, added, removed))))
      local new, changed, gone = {}, {}, {}
      for _, f in ipairs(order) do
        if not previous.bodies[f] then table.insert(new, f)
        elseif previous.bodies[f] ~= bodies[f] then table.insert(changed, f) end
      end
      for _, f in ipairs(previous.order) do
        if not bodies[f] then table.insert(gone, f) end
      end
      local items = {}
      for _, group in ipairs({{"New:", new}, {"Changed:", changed}, {"Gone:", gone}}) do
        if #group[2] > 0 then
          local inlines = {pandoc.Strong({pandoc.Str(group[1])}), pandoc.Space()}
          for _, i in ipairs(code_list(group[2])) do table.insert(inlines, i) end
          table.insert(items, {pandoc.Plain(inlines)})
        end
      end
      local same = #order - #new - #changed
      table.insert(items, {pandoc.Plain(words(string.format(
        "Unchanged: %d function%s.", same, same == 1 and "" or "s")))})
      table.insert(blocks, pandoc.BulletList(items))
      table.insert(row, {pandoc.Plain({pandoc.Str(tostring(size))})})
      table.insert(row, {pandoc.Plain({pandoc.Str("+" .. added)})})
      table.insert(row, {pandoc.Plain({pandoc.Str("−" .. removed)})})
    end
    table.insert(rows, row)
    table.insert(sections, pandoc.Header(3, {pandoc.Code(name)}, pandoc.Attr("step-" .. name)))
    for _, b in ipairs(blocks) do table.insert(sections, b) end
    previous = {name = name, path = path, file = file, lines = lines,
                bodies = bodies, order = order}
  end

  local headers = {}
  for _, h in ipairs({"step", "server.c lines", "diff lines", "added", "removed"}) do
    table.insert(headers, {pandoc.Plain({pandoc.Str(h)})})
  end
  local aligns = {pandoc.AlignLeft, pandoc.AlignRight, pandoc.AlignRight,
                  pandoc.AlignRight, pandoc.AlignRight}
  local table_ = pandoc.utils.from_simple_table(pandoc.SimpleTable(
    {}, aligns, {0, 0, 0, 0, 0}, headers, rows))
  local out = {table_}
  for _, b in ipairs(sections) do table.insert(out, b) end
  return pandoc.Div(out, pandoc.Attr("", {"stepdiffs"}))
end

-- The step steps[i] grows from: the latest earlier step whose files its
-- Makefile links (steps 09 and 10 run step 07's machinery, not step
-- 08's workers), or else the one before it.
local function grows_from(steps, i)
  local makefile = read_file(ROOT .. "/steps/" .. steps[i] .. "/Makefile") or ""
  local base
  for linked in makefile:gmatch("%.%./(%d%d%-[%w%-]+)") do
    if linked < steps[i] and (not base or linked > base) then base = linked end
  end
  return base or steps[i - 1]
end

-- The diffs appendix: ```{.wholediffs}``` becomes, for every step from the
-- second on, a section #diff-NN-name holding the whole diff of its
-- server.c against the server.c of the step it grows from (grows_from),
-- which its chapter links to ([...](appendix-diffs.md#diff-NN-name))
-- instead of showing it.
local function wholediffs_block(chapter, el)
  local here = where(chapter, el, nil)
  if not body_is_empty(el) then
    fail(here .. ": a wholediffs block must have an empty body; it is generated")
  end
  local steps = step_dirs()
  if #steps < 2 then
    return pandoc.Para(words("(No two steps to compare yet: steps/NN-name/server.c.)"))
  end
  local chapter_of = {}
  for file in pairs(BOOK_FILES or {}) do
    local nn = file:match("^(%d%d)%-.*%.md$")
    if nn and (not chapter_of[nn] or file < chapter_of[nn]) then chapter_of[nn] = file end
  end
  local out = {}
  for i = 2, #steps do
    local before, after = grows_from(steps, i), steps[i]
    table.insert(out, pandoc.Header(2, {pandoc.Str("From"), pandoc.Space(),
      pandoc.Code(before), pandoc.Space(), pandoc.Str("to"), pandoc.Space(),
      pandoc.Code(after)}, pandoc.Attr("diff-" .. after)))
    local nn = after:sub(1, 2)
    if chapter_of[nn] then
      local about = words("What")
      table.insert(about, pandoc.Space())
      table.insert(about, pandoc.Link(words("chapter " .. tonumber(nn)), chapter_of[nn]))
      for _, w in ipairs({pandoc.Space(), table.unpack(words(
          "changes in server.c, every line:"))}) do
        table.insert(about, w)
      end
      table.insert(out, pandoc.Para(about))
    end
    table.insert(out, diff_listing(here, {"steps/" .. before .. "/server.c",
      "steps/" .. after .. "/server.c"}, nil))
  end
  return out    -- blocks, not a Div: the contents list the sections
end

-- Shell blocks carry a tag for tests/test_commands.py ({.sh .run},
-- .with-server, .starts-server, .manual; see book/README.md, "Commands"):
-- the reader sees plain shell.
local COMMAND_TAGS = {"run", "with-server", "starts-server", "manual"}
local COMMAND_ATTRIBUTES = {"exit", "timeout", "step", "server-args"}

local function command_block(el)
  local tagged = false
  for _, tag in ipairs(COMMAND_TAGS) do
    if el.classes:includes(tag) then
      tagged = true
      el = drop_class(el, tag)
    end
  end
  if not tagged then return nil end
  for _, k in ipairs(COMMAND_ATTRIBUTES) do el.attributes[k] = nil end
  return el
end

local function code_block(chapter, el)
  if el.attributes.lines then
    fail(where(chapter, el, "include") ..
      ": lines= is not supported; mark a snippet in the source instead")
  end
  if el.classes:includes("dot") then return dot_block(chapter, el) end
  if el.classes:includes("stepdiffs") then return stepdiffs_block(chapter, el) end
  if el.classes:includes("wholediffs") then return wholediffs_block(chapter, el) end
  if el.attributes.diff then return diff_block(chapter, el) end
  if el.attributes.include then return include_block(chapter, el) end
  if el.attributes.snippet then
    fail(where(chapter, el, "snippet") .. ": snippet= without include= or diff=")
  end
  if el.classes:includes("c") then
    fail(where(chapter, el, "include") .. ": C code must come from the sources: " ..
      "use {.c include=\"steps/...\" snippet=\"...\"} with an empty body")
  end
  return command_block(el)
end

--------------------------------------------------------------------------
-- Measured figures
--
-- A figure from the benchmark is never typed into a chapter: it is quoted
-- with a span that names where it comes from, and the build prints the
-- value from the committed run (book/figures/bench/, written by make bench):
--
--   [55,047]{.measured csv="throughput" server="07-state-machine"
--            request="GET /" column="requests_per_s"}
--   [89.7]{.measured csv="scaling" step="07-state-machine" customers="10000"
--          column="peak_pss_kib" divide="1024"}
--   [AMD EPYC]{.measured json="machine" key="cpu"}
--
-- Every attribute but csv, column and divide selects rows by column value;
-- exactly one row must remain. The span's own text is the value as the
-- chapter's author saw it: the filter prints the measured value in the same
-- shape (as many decimals; thousands separated if the text has a comma), and
-- warns when the two differ, so a stale quote shows up in the build's
-- output (book/refresh_figures.py rewrites the texts after a new run).

local BENCH           -- directory of the benchmark's CSV and JSON files
local MEASURED_FILE   -- book/measured.py's output, if book/Makefile wrote it
local measured        -- that table: {csv = {name = {header=, rows=}}, json = {...}}

-- The CSV and JSON files are read by book/measured.py, with Python's own
-- parsers, into a Lua table (its comment shows the shape). book/Makefile
-- writes it before pandoc starts; run by hand, the filter runs it here.
local function load_measured()
  if measured then return measured end
  local text, origin
  if MEASURED_FILE then
    text, origin = read_file(MEASURED_FILE), MEASURED_FILE
    if not text then fail("cannot read " .. MEASURED_FILE .. " (book/measured.py writes it)") end
  else
    local script = pandoc.path.join({ROOT, "book", "measured.py"})
    local ok, out = pcall(pandoc.pipe, "python3", {script, "--figures", BENCH}, "")
    if not ok then
      fail("book/measured.py failed on " .. shown(BENCH) .. ": " ..
        (type(out) == "table" and ("exit " .. tostring(out.error_code)) or tostring(out)))
    end
    text, origin = out, script
  end
  local chunk, problem = load(text, "=" .. origin, "t", {})
  if not chunk then fail(origin .. ": " .. problem) end
  measured = chunk()
  return measured
end

local function bench_table(label, name)
  local t = load_measured().csv[name]
  if not t then
    fail(label .. ": no measured figures at " ..
      shown(pandoc.path.join({BENCH, name .. ".csv"})))
  end
  return t
end

local function json_value(label, name, key)
  local path = shown(pandoc.path.join({BENCH, name .. ".json"}))
  local record = load_measured().json[name]
  if not record then fail(label .. ": no measured figures at " .. path) end
  local value = record[key]
  if value == nil then fail(label .. ": " .. path .. " has no top-level key " .. key) end
  return value
end

local function with_commas(digits)
  local out = digits
  repeat
    local n
    out, n = out:gsub("^(%-?%d+)(%d%d%d)", "%1,%2")
  until n == 0
  return out
end

-- The value printed the way the author wrote the quote.
local function shaped(value, quote, divide)
  local number = tonumber(value)
  if not number then return value end
  number = number / (divide or 1)
  local decimals = quote:match("%.(%d+)$")
  local text = string.format("%." .. (decimals and #decimals or 0) .. "f", number)
  if quote:find(",") then
    local whole, rest = text:match("^(%-?%d+)(.*)$")
    text = with_commas(whole) .. rest
  end
  return text
end

local function measured_value(label, attrs)
  if attrs.json then
    if not attrs.key then fail(label .. ": json= without key=") end
    return json_value(label, attrs.json, attrs.key)
  end
  if not attrs.csv then fail(label .. ": .measured needs csv= or json=") end
  if not attrs.column then fail(label .. ": .measured needs column=") end
  local t = bench_table(label, attrs.csv)
  local known = {}
  for _, c in ipairs(t.header) do known[c] = true end
  local wanted = {}
  for k, v in pairs(attrs) do
    if k ~= "csv" and k ~= "column" and k ~= "divide" then
      if not known[k] then fail(label .. ": " .. attrs.csv .. ".csv has no column " .. k) end
      wanted[k] = v
    end
  end
  if not known[attrs.column] then
    fail(label .. ": " .. attrs.csv .. ".csv has no column " .. attrs.column)
  end
  local found = {}
  for _, row in ipairs(t.rows) do
    local ok = true
    for k, v in pairs(wanted) do
      if row[k] ~= v then ok = false end
    end
    if ok then table.insert(found, row) end
  end
  if #found ~= 1 then
    fail(string.format("%s: %d rows of %s.csv match, not one", label, #found, attrs.csv))
  end
  local value = found[1][attrs.column]
  if value == "" then
    fail(label .. ": " .. attrs.csv .. ".csv has no value in " .. attrs.column ..
      " (note: " .. (found[1].note or "") .. ")")
  end
  return value
end

local function measured_span(chapter, el)
  if not el.classes:includes("measured") then return nil end
  local quote = stringify(el.content)
  local attrs = {}
  for k, v in pairs(el.attributes) do attrs[k] = v end
  local label = chapter.shown .. ": [" .. quote .. "]{.measured}"
  local divide = attrs.divide and tonumber(attrs.divide)
  if attrs.divide and not divide then fail(label .. ": divide= is not a number") end
  local text = shaped(measured_value(label, attrs), quote, divide)
  if text ~= quote then
    warn(string.format("%s: quotes %s, the figures say %s", label, quote, text))
  end
  return pandoc.Span({pandoc.Str(text)}, pandoc.Attr("", {"measured"}, {}))
end

--------------------------------------------------------------------------
-- Manual pages
--
-- book/manpages.txt lists the functions and system calls the book talks
-- about. The first time one appears in the book as inline code (`accept`,
-- `accept()` or `accept(2)`), outside a heading and outside a link, it
-- becomes a link to its page on man7.org; later appearances stay plain.
-- `close`{.plain} is never linked (the word, not the call, is meant); it
-- keeps the class, so the test can tell it from a missed link.

local MANPAGES        -- name -> {section=, page=}
local MAN_SKIP = "book-no-man"

local function load_manpages(path)
  local table_ = {}
  local text = read_file(path)
  if not text then
    warn("no manual page table at " .. path .. ": no man page links")
    return table_
  end
  for i, line in ipairs(split_lines(text)) do
    local entry = line:gsub("#.*$", "")
    if entry:match("%S") then
      local name, section, page =
        entry:match("^%s*([%w_]+)%s+(%d%a?)%s*([%w_]*)%s*$")
      if not name then
        fail(string.format("%s:%d: want NAME SECTION [PAGE], got %q",
          shown(path), i, line))
      end
      table_[name] = {section = section, page = page ~= "" and page or name}
    end
  end
  return table_
end

local function man_url(entry)
  return string.format("https://man7.org/linux/man-pages/man%s/%s.%s.html",
    entry.section:sub(1, 1), entry.page, entry.section)
end

-- The table entry inline code names: `poll`, `poll()` or `poll(2)` (a
-- section in parentheses must be the table's: `kill(1)` is not kill(2)).
local function man_entry(text)
  local name, section = text:match("^([%w_]+)%((%w*)%)$")
  name = name or text:match("^[%w_]+$")
  local entry = name and MANPAGES[name]
  if entry and section and section ~= "" and section ~= entry.section then
    return nil
  end
  return entry, name
end

-- Links the first appearance of each name; `linked` spans the whole book.
local function link_manpages(chapter, blocks, linked)
  local function skip_codes_inside(el)
    return pandoc.walk_inline(el, {Code = function(c)
      c.classes:insert(MAN_SKIP)
      return c
    end})
  end
  local function skip_in_header(h)
    h.content = pandoc.walk_inline(pandoc.Span(h.content),
      {Code = function(c) c.classes:insert(MAN_SKIP); return c end}).content
    return h
  end
  local function hand_link(el)
    if el.target:match("^https?://man7%.org/") then
      warn(string.format("%s: hand-written manual link %s: write the name in " ..
        "backticks, the book links it (book/manpages.txt)", chapter.shown, el.target))
    end
    return skip_codes_inside(el)
  end
  blocks = pandoc.walk_block(pandoc.Div(blocks),
    {Link = hand_link, Header = skip_in_header}).content
  local function code(el)
    if el.classes:includes(MAN_SKIP) then return drop_class(el, MAN_SKIP) end
    if el.classes:includes("plain") then return nil end
    local entry, name = man_entry(el.text)
    if not entry or linked[name] then return nil end
    linked[name] = chapter.shown
    return pandoc.Link({el}, man_url(entry),
      name .. "(" .. entry.section .. "), the manual page",
      pandoc.Attr("", {"man"}))
  end
  return pandoc.walk_block(pandoc.Div(blocks), {Code = code}).content
end

--------------------------------------------------------------------------
-- One analogy: the glossary
--
-- The glossary chapter (chapters/appendix-glossary.md) is a definition
-- list; each term ("order ticket, ticket") names one or more analogy terms.
-- book/analogy.txt is the pizzeria's vocabulary, one word or phrase a line.
-- An analogy term, for the warning below, is
--   * a vocabulary entry used in a chapter's prose (code left out), or
--   * an emphasised phrase of at most three words holding a vocabulary
--     entry (*ringing oven*, *staff book*): a term being coined.
-- One that the glossary does not define is a warning, never an error: the
-- book still builds, and the warning says what to add.

local GLOSSARY        -- normalised term -> true; nil: no glossary
local VOCABULARY      -- list of lower-case phrases
local GLOSSARY_FILE   -- shown path of the glossary chapter

local function normal(phrase)
  phrase = phrase:lower():gsub("[%p]", " "):gsub("%s+", " ")
  return (phrase:gsub("^ ", ""):gsub(" $", ""):gsub("^the ", ""))
end

local function load_glossary(path)
  local text = read_file(path)
  if not text then return nil end
  local terms = {}
  local doc = pandoc.read(text, "markdown")
  pandoc.walk_block(pandoc.Div(doc.blocks), {DefinitionList = function(dl)
    for _, item in ipairs(dl.content) do
      for name in stringify(item[1]):gmatch("[^,]+") do
        terms[normal(name)] = true
      end
    end
  end})
  return terms
end

local function load_vocabulary(path)
  local words = {}
  local text = read_file(path)
  if not text then return words end
  for _, line in ipairs(split_lines(text)) do
    local entry = line:gsub("#.*$", "")
    if entry:match("%S") then table.insert(words, normal(entry)) end
  end
  return words
end

local function glossed(phrase)
  phrase = normal(phrase)
  return GLOSSARY[phrase] or GLOSSARY[(phrase:gsub("e?s$", ""))]
    or GLOSSARY[(phrase:gsub("s$", ""))] or false
end

-- Is the vocabulary entry `word` in the (normalised) text, as whole words,
-- singular or plural?
local function uses(text, word)
  local pattern = "%f[%w]" .. word:gsub("%p", "%%%0") .. "e?s?%f[^%w]"
  return text:find(pattern) ~= nil
end

local function check_analogy(chapter, blocks)
  if not GLOSSARY or chapter.shown == GLOSSARY_FILE then return end
  local emphasised = {}
  local prose = pandoc.walk_block(pandoc.Div(blocks), {
    CodeBlock = function() return {} end,
    Code = function() return pandoc.Space() end,
    Emph = function(el)
      local phrase = normal(stringify(el))
      local _, spaces = phrase:gsub(" ", "")
      if spaces < 3 then table.insert(emphasised, phrase) end
    end,
  })
  local text = " " .. normal(stringify(prose)) .. " "
  local missing, listed = {}, {}
  local function miss(term)
    if not listed[term] then listed[term] = true; table.insert(missing, term) end
  end
  for _, word in ipairs(VOCABULARY) do
    if uses(text, word) and not glossed(word) then miss(word) end
  end
  for _, phrase in ipairs(emphasised) do
    for _, word in ipairs(VOCABULARY) do
      if uses(" " .. phrase .. " ", word) and not glossed(phrase) then
        miss(phrase)
        break
      end
    end
  end
  for _, term in ipairs(missing) do
    warn(string.format("%s: analogy term '%s' is not in the glossary (%s)",
      chapter.shown, term, GLOSSARY_FILE))
  end
end

--------------------------------------------------------------------------
-- Chapters, identifiers and links
--
-- Chapter chapters/NN-name.md gets the anchor #ch-NN-name (on its first
-- heading); every identifier x inside it becomes ch-NN-name--x. Links
--   [..](NN-name.md)      -> #ch-NN-name
--   [..](NN-name.md#x)    -> #ch-NN-name--x
--   [..](#x)              -> #ch-NN-name--x   (same chapter)
-- so identical section titles in different chapters cannot collide.

local function chapter_anchor(slug) return "ch-" .. slug end

-- The anchor GitHub gives a heading, for links written to work there too
-- (pandoc's own identifiers differ for headings like "1. Accept").
local function github_slug(header)
  return (stringify(header.content):lower():gsub("[^%w_%- ]", ""):gsub(" ", "-"))
end

local function prefix_ids(chapter, blocks)
  local anchor = chapter_anchor(chapter.slug)
  local ids, aliases = chapter.ids, {}
  local function rename(el)
    if el.identifier and el.identifier ~= "" then
      local new = anchor .. "--" .. el.identifier
      ids[el.identifier] = new
      el.identifier = new
      return el
    end
  end
  local function header(el)
    local alias = github_slug(el)
    el = rename(el) or el
    if el.identifier ~= "" and alias ~= "" and aliases[alias] == nil then
      aliases[alias] = el.identifier
    end
    return el
  end
  -- The chapter's anchor goes on its first top-level heading; before the
  -- walk renames it, note its own identifier, which then means the chapter.
  local first, first_id
  for i, b in ipairs(blocks) do
    if b.t == "Header" then first, first_id = i, b.identifier; break end
  end
  local out = pandoc.walk_block(pandoc.Div(blocks), {Header = header,
    Div = rename, Span = rename, CodeBlock = rename, Code = rename,
    Link = rename, Image = rename}).content
  if first then
    local renamed = out[first].identifier
    out[first].identifier = anchor
    if first_id ~= "" then ids[first_id] = anchor end
    for alias, id in pairs(aliases) do
      if id == renamed then aliases[alias] = anchor end
    end
  else
    table.insert(out, 1, pandoc.Div({}, pandoc.Attr(anchor)))
  end
  for alias, id in pairs(aliases) do
    if ids[alias] == nil then ids[alias] = id end
  end
  return out
end

local function unlink(link)
  return link.content
end

local function rewrite_links(chapter, blocks, by_file, format, guarded)
  local function link(el)
    local target = el.target
    if target:match("^%a[%w+.%-]*:") or target:match("^//") then
      return nil                                   -- http:, mailto:, ...
    end
    local path, frag = target:match("^([^#]*)#?(.*)$")
    local other
    if path == "" then
      other = chapter
    elseif path:match("%.md$") then
      other = by_file[pandoc.path.filename(path)]
      if not other then
        warn(string.format("%s: link to %s, which is not a chapter of this book; " ..
          "shown as plain text", chapter.shown, target))
        return unlink(el)
      end
    else
      -- A file in the repository, relative to the chapter: the HTML lives
      -- in book/out/, so point there; an EPUB cannot link outside itself.
      if format:match("epub") then return unlink(el) end
      local repo_path = shown(pandoc.path.join({chapter.dir, path}))
      if not pandoc.path.is_absolute(repo_path) then
        el.target = "../../" .. repo_path .. (frag ~= "" and ("#" .. frag) or "")
        return el
      end
      return nil
    end
    if frag == "" then
      el.target = "#" .. chapter_anchor(other.slug)
    elseif other.ids[frag] then
      el.target = "#" .. other.ids[frag]
    else
      fail(string.format("%s: link %s: no #%s in %s", chapter.shown, target,
        frag, other.shown))
    end
    return el
  end
  return pandoc.walk_block(pandoc.Div(blocks), {Link = guarded(link)}).content
end

local function make_chapter(path, text)
  local slug = pandoc.path.split_extension(pandoc.path.filename(path))
  return {
    path = path,
    file = pandoc.path.filename(path),
    slug = slug:gsub("[^%w_%-]", "-"),
    dir = pandoc.path.directory(absolute(path)),
    shown = shown(path),
    lines = text and split_lines(text),
    cursor = 0,
    ids = {},
  }
end

local function meta_path(meta, key)
  local v = meta[key]
  if v == nil then return nil end
  meta[key] = nil
  return stringify(v)
end

-- Inline code short enough to fit any line is never broken across two at
-- a hyphen or a space (`--help` as "--" at one line's end and "help" at
-- the next): on a page it gets the class "unbroken", which the
-- stylesheets keep on one line. A longer one may still wrap, or a phone's
-- narrow page would scroll sideways.
local UNBROKEN_MAX = 28

local function unbroken(el)
  if (FORMAT:match("html") or FORMAT:match("epub"))
      and utf8.len(el.text) <= UNBROKEN_MAX and el.text:find("[-%s]") then
    el.classes:insert("unbroken")
    return el
  end
end

local function Pandoc(doc)
  local script_dir = pandoc.path.directory(absolute(PANDOC_SCRIPT_FILE))
  ROOT = tidy(absolute(meta_path(doc.meta, "pizzeria-root")
    or pandoc.path.join({script_dir, "..", ".."})))
  FIGURES = tidy(absolute(meta_path(doc.meta, "pizzeria-figures")
    or pandoc.path.join({ROOT, "book", "out", "figures"})))
  BENCH = tidy(absolute(meta_path(doc.meta, "pizzeria-bench")
    or pandoc.path.join({ROOT, "book", "figures", "bench"})))
  MEASURED_FILE = meta_path(doc.meta, "pizzeria-measured")
  MEASURED_FILE = MEASURED_FILE and tidy(absolute(MEASURED_FILE))

  -- One entry per input file. With several files, pandoc has already glued
  -- them together, so read each again on its own: that gives each chapter
  -- its own identifiers and tells which file a block came from.
  local chapters = {}
  local files = PANDOC_STATE.input_files
  if #files == 0 or (#files == 1 and files[1] == "-") then
    local ch = make_chapter("stdin.md", nil)
    ch.blocks = doc.blocks
    chapters = {ch}
  elseif #files == 1 then
    local ch = make_chapter(files[1], read_file(files[1]))
    ch.blocks = doc.blocks
    chapters = {ch}
  else
    for _, f in ipairs(files) do
      local text = read_file(f)
      if not text then fail("cannot read " .. f) end
      local ch = make_chapter(f, text)
      ch.blocks = pandoc.read(text, "markdown", PANDOC_READER_OPTIONS).blocks
      table.insert(chapters, ch)
    end
  end

  local by_file = {}
  for _, ch in ipairs(chapters) do
    if by_file[ch.file] then
      fail("two chapters named " .. ch.file .. ": " .. by_file[ch.file].shown ..
        " and " .. ch.shown)
    end
    by_file[ch.file] = ch
  end
  BOOK_FILES = by_file

  -- An error() inside a walk reaches pandoc mangled, and only the first
  -- one: collect them all and stop once, from here.
  local errors = {}
  local function guarded(fn)
    return function(...)
      local ok, res = pcall(fn, ...)
      if ok then return res end
      table.insert(errors, tostring(res):match("^%s*(.-)%s*$"))
      return nil
    end
  end
  local function stop_on_errors()
    if #errors > 0 then
      error("\n" .. table.concat(errors, "\n") .. "\n[book] " .. #errors ..
        " error(s); no book.\n", 0)
    end
  end

  MANPAGES = load_manpages(meta_path(doc.meta, "pizzeria-manpages")
    or pandoc.path.join({ROOT, "book", "manpages.txt"}))
  local glossary_path = meta_path(doc.meta, "pizzeria-glossary")
    or pandoc.path.join({ROOT, "chapters", "appendix-glossary.md"})
  GLOSSARY_FILE = shown(glossary_path)
  GLOSSARY = load_glossary(glossary_path)
  VOCABULARY = load_vocabulary(meta_path(doc.meta, "pizzeria-analogy")
    or pandoc.path.join({ROOT, "book", "analogy.txt"}))
  if not GLOSSARY then
    warn("no glossary at " .. GLOSSARY_FILE .. ": analogy terms not checked")
  end
  local linked = {}
  for _, ch in ipairs(chapters) do
    check_analogy(ch, ch.blocks)
    ch.blocks = pandoc.walk_block(pandoc.Div(ch.blocks), {
      CodeBlock = guarded(function(el) return code_block(ch, el) end),
      Span = guarded(function(el) return measured_span(ch, el) end),
    }).content
    ch.blocks = link_manpages(ch, ch.blocks, linked)
    ch.blocks = prefix_ids(ch, ch.blocks)
  end
  stop_on_errors()

  local blocks = {}
  for _, ch in ipairs(chapters) do
    for _, b in ipairs(rewrite_links(ch, ch.blocks, by_file, FORMAT, guarded)) do
      table.insert(blocks, b)
    end
  end
  stop_on_errors()
  doc.blocks = pandoc.walk_block(pandoc.Div(blocks), {Code = unbroken}).content
  return doc
end

return {{Pandoc = Pandoc}}
